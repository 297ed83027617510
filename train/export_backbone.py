"""Export the backbone's EMA weights, folded (docs/model.md §8), into a model file; with --tokens the
token model's tensors and config are carried over (a backbone already there is replaced), so one file
serves both modes.

  /usr/bin/python3 train/export_backbone.py --run train/runs/bb --tokens models/hitsr-tiny.safetensors --out models/hitsr-tiny.safetensors
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch

from hitsr.backbone import load_backbone
from hitsr.export import load_safetensors, save_safetensors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="train/runs/bb", help="run directory or snapshot file")
    ap.add_argument("--tokens", default="", help="model file whose token model is carried over")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    net, step = load_backbone(a.run)
    ts = {k: v.float() for k, v in net.export_state().items()}
    meta = {"backbone": net.cfg.to_json(), "backbone_steps": str(step)}
    if a.tokens:
        tok, tmeta = load_safetensors(a.tokens)
        ts.update({k: v.float() for k, v in tok.items() if not k.startswith("bb.")})
        meta.update({k: v for k, v in tmeta.items() if not k.startswith("backbone")})
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    save_safetensors(tmp, ts, meta)
    os.replace(tmp, a.out)
    print(a.out, os.path.getsize(a.out), "bytes, backbone step", step)


if __name__ == "__main__":
    main()
