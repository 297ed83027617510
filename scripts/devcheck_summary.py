"""Collects scripts/device-check.sh's results from its work folder into $OUT (standard library only,
so any python3 runs it): summary.json (figures of every stage), check.log, bench.log, ops.log,
train.log and the training run's snapshot.pt, ckpt.pt, log.jsonl under run/ — 8 files at most, each
cut to 15 MB (the device tool returns 8 files of 16 MB).

  python3 scripts/devcheck_summary.py WORK OUT
"""
import json
import os
import re
import shutil
import sys

MAX = 15 * 10 ** 6
RUN_FILES = ("snapshot.pt", "ckpt.pt", "log.jsonl")


def read(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_text(path, text):
    b = text.encode()
    if len(b) > MAX:
        head, tail = b[: 2 * 10 ** 6], b[-(MAX - 2 * 10 ** 6 - 200):]
        b = head + f"\n[... {len(b) - len(head) - len(tail)} bytes cut ...]\n".encode() + tail
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b)
    os.replace(tmp, path)


def hitsr_bench(text):
    """The hitsr-bench tables as {section: [[cells]]} (cells split on runs of 2+ spaces)."""
    out, sec = {}, None
    for line in text.splitlines():
        if line.startswith("== devbench"):
            break
        cells = [c for c in re.split(r"\s{2,}", line.strip()) if c]
        if not cells:
            continue
        if "backend" in cells:
            sec = cells[0].split()[0].lower()
            out[sec] = [cells]
        elif sec and len(cells) >= 3:
            out[sec].append(cells)
    return out


def ops(text):
    """Per test binary: exit status, top-level PASS/FAIL/SKIP counts, failed tests, backends."""
    res = {}
    for block in re.split(r"^===== ", text, flags=re.M)[1:]:
        name = block.split()[0]
        ex = re.findall(r"^exit (\d+)$", block, flags=re.M)
        res[name] = dict(
            exit=int(ex[-1]) if ex else None,
            passed=len(re.findall(r"^--- PASS", block, flags=re.M)),
            failed=re.findall(r"^--- FAIL: (\S+)", block, flags=re.M),
            skipped=re.findall(r"^--- SKIP: (\S+)", block, flags=re.M),
            backends=sorted(set(re.findall(r"harness_test\.go:\d+: backend (.+)", block))),
            ok=bool(ex) and ex[-1] == "0")
    return res


def main():
    work, out = sys.argv[1], sys.argv[2]
    logs = os.path.join(work, "logs")
    stages = []
    for line in read(os.path.join(work, "stages.tsv")).splitlines():
        f = line.split("\t")
        if len(f) == 5:
            stages.append(dict(stage=f[0], status=f[1], rc=f[2], seconds=int(f[3]), box=int(f[4])))
    gpu = [l.strip() for l in read(os.path.join(work, "gpu.csv")).splitlines() if l.strip()]
    bench_log = read(os.path.join(logs, "bench.log"))
    ops_log = read(os.path.join(logs, "ops.log"))
    dev = load_json(os.path.join(work, "devices.json")) or {}
    s = dict(
        dry_run=os.environ.get("DRY", "0") == "1",
        gpu=gpu,
        vulkan_devices=dev.get("devices"),
        vulkan_gpu=any(d.get("type") != "cpu" for d in dev.get("devices") or []),
        stages=stages,
        bench=dict(devbench=load_json(os.path.join(work, "devbench.json")), hitsr_bench=hitsr_bench(bench_log)),
        ops=ops(ops_log),
        train=load_json(os.path.join(work, "train.json")),
        commit=read(os.path.join(work, "x", "bin", "COMMIT")).strip() or None,
        dirty=read(os.path.join(work, "x", "bin", "DIRTY")).split("\n")[:20] if read(os.path.join(work, "x", "bin", "DIRTY")).strip() else [],
        files=[],
    )
    check = read(os.path.join(logs, "check.log")) + "\n===== setup stage\n" + read(os.path.join(logs, "setup.log"))
    for name, text in (("check.log", check), ("bench.log", bench_log), ("ops.log", ops_log),
                       ("train.log", read(os.path.join(logs, "train.log")))):
        write_text(os.path.join(out, name), text)
        s["files"].append(name)
    run = os.path.join(work, "run")
    for name in RUN_FILES:
        src = os.path.join(run, name)
        if os.path.isfile(src) and os.path.getsize(src) <= MAX:
            os.makedirs(os.path.join(out, "run"), exist_ok=True)
            shutil.copyfile(src, os.path.join(out, "run", name + ".tmp"))
            os.replace(os.path.join(out, "run", name + ".tmp"), os.path.join(out, "run", name))
            s["files"].append("run/" + name)
    s["files"].append("summary.json")
    tmp = os.path.join(out, "summary.json.tmp")
    with open(tmp, "w") as f:
        json.dump(s, f, indent=1)
    os.replace(tmp, os.path.join(out, "summary.json"))


if __name__ == "__main__":
    main()
