"""Backbone curves PNG: training loss per scale (left) and Set5 / Set14 PSNR-Y of the run's snapshots
(right, from eval_snapshots.sh's CSVs), with the published FSRCNN figures for reference.

  /usr/bin/python3 train/plot_backbone.py --run train/runs/bb --out docs/backbone-curves.png
"""
import argparse
import csv
import glob
import json
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from plot_curves import smooth  # noqa: E402

FSRCNN = {("Set5", 2): 37.00, ("Set5", 4): 30.71, ("Set14", 2): 32.63, ("Set14", 4): 27.59}


def evals(run):
    """{(set, scale): [(step, mean PSNR-Y)]} from <run>/evals/<set>-<step>.csv."""
    out = {}
    for p in glob.glob(os.path.join(run, "evals", "*.csv")):
        m = re.match(r"(\w+)-(\d+)\.csv", os.path.basename(p))
        rows = [r for r in csv.DictReader(open(p)) if r["method"] == "hitsr"]
        for s in sorted({int(r["scale"]) for r in rows}):
            v = [float(r["psnr_y"]) for r in rows if int(r["scale"]) == s]
            out.setdefault((m.group(1), s), []).append((int(m.group(2)), sum(v) / len(v)))
    return {k: sorted(v) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="train/runs/bb")
    ap.add_argument("--out", default="docs/backbone-curves.png")
    a = ap.parse_args()
    log = [json.loads(l) for l in open(os.path.join(a.run, "log.jsonl"))]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    l1 = [r for r in log if r["lr"] > 0 and r.get("x4", 0) > 0.01]  # the L1 phase (L2 values are ~100× smaller)
    st = [r["step"] for r in l1]
    for k, name in (("x2", "×2"), ("x4", "×4")):
        ax1.plot(st, smooth([r[k] for r in l1], 25), label=f"{name} L1")
    ax1.set(title="backbone training loss (L1 phase)", xlabel="training step", ylabel="L1 (pixels in [0, 1])")
    ax1.legend()
    for (sname, s), pts in sorted(evals(a.run).items()):
        line, = ax2.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{sname} ×{s}")
        if (sname, s) in FSRCNN:
            ax2.axhline(FSRCNN[(sname, s)], color=line.get_color(), ls=":", lw=0.8)
    ax2.set(title="PSNR-Y of EMA snapshots (dotted: FSRCNN, published)", xlabel="training step", ylabel="dB")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.out)
    print(a.out)


if __name__ == "__main__":
    main()
