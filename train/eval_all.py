"""PSNR-Y / SSIM-Y table on Set5 / Set14 at x2, x4 for bicubic, tokenizer ceiling, and model(s).

  /usr/bin/python3 train/eval_all.py --tok train/runs/tok --sets Set14 --out train/runs/eval_ceiling.json
  /usr/bin/python3 train/eval_all.py --model models/hitsr-tiny.safetensors --name model --out ...
Methods are added for every --tok (ceiling) and --model/--tr (one-pass tiled model) given.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch

from hitsr.ckpt import load_tokenizer
from hitsr.evaluate import ceiling_fn, evaluate, model_fn
from hitsr.export import import_model
from hitsr.transformer import Transformer
from hitsr.util import setup_threads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tok", action="append", default=[], help="NAME=run_dir: tokenizer ceiling")
    ap.add_argument("--model", action="append", default=[], help="NAME=file.safetensors: one-pass model")
    ap.add_argument("--tr", action="append", default=[], help="NAME=tok_run:tr_run: model from run dirs")
    ap.add_argument("--sets", default="Set5,Set14")
    ap.add_argument("--scales", default="2,4")
    ap.add_argument("--no-bicubic", action="store_true")
    ap.add_argument("--overlap", type=int, default=4)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    setup_threads()
    torch.set_grad_enabled(False)
    scales = [int(s) for s in a.scales.split(",")]
    methods = {}
    if not a.no_bicubic:
        methods["bicubic"] = "bicubic"
    for spec in a.tok:
        name, path = spec.split("=", 1)
        _, tok = load_tokenizer(path)
        methods[name] = ("hr", {s: ceiling_fn(tok, s) for s in scales})
    for spec in a.model:
        name, path = spec.split("=", 1)
        cfg, tok, tr = import_model(path)
        tok.eval(); tr.eval()
        methods[name] = ("lr", {s: model_fn(tok, tr, s) for s in scales})
    for spec in a.tr:
        name, paths = spec.split("=", 1)
        tp, rp = paths.split(":")
        cfg, tok = load_tokenizer(tp)
        tr = Transformer(cfg)
        tr.load_state_dict(torch.load(os.path.join(rp, "tr_ema.pt"))["ema"])
        tr.eval()
        methods[name] = ("lr", {s: model_fn(tok, tr, s) for s in scales})
    t0 = time.time()
    res = evaluate(methods, sets=a.sets.split(","), scales=scales, overlap=a.overlap,
                   log=lambda s: print(f"[{time.time() - t0:.0f}s] {s}", flush=True))
    out = [dict(set=k[0], scale=k[1], method=k[2], psnr_y=v[0], ssim_y=v[1]) for k, v in res.items()]
    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1)
    print("| set | scale | " + " | ".join(methods) + " |")
    for sname in a.sets.split(","):
        for s in scales:
            print(f"| {sname} | x{s} | " + " | ".join(f"{res[(sname, s, m)][0]:.2f} / {res[(sname, s, m)][1]:.4f}"
                                                      for m in methods) + " |")


if __name__ == "__main__":
    main()
