"""Export model v2 (docs/model.md §8 + §10): the backbone's EMA weights (folded) and the token path's
(quantizer, decoder, transformer; no training-only encoder) into one model file.

  /usr/bin/python3 train/export_v2.py --out models/hitsr-tiny.safetensors
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch

from eval_v2 import load
from hitsr.backbone import load_backbone
from hitsr.export import save_safetensors
from hitsr.tokpath import export_state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="train/snapshots/backbone.pt")
    ap.add_argument("--tokpath", default="train/runs/tp/snapshot.pt")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    bb, bb_step = load_backbone(a.backbone)
    tp, tr, s = load(a.tokpath)
    assert tp.cfg.cond_ch == bb.cfg.ch, "token path condition channels differ from the backbone's"
    ts = {**bb.export_state(), **export_state(tp, tr)}
    meta = {"backbone": bb.cfg.to_json(), "backbone_steps": str(bb_step), "config": tp.cfg.to_json(),
            "tokpath": f"{s['stage']} step {s['step']}"}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    save_safetensors(tmp, ts, meta)
    os.replace(tmp, a.out)
    print(a.out, os.path.getsize(a.out), "bytes;", meta["tokpath"], "; backbone step", bb_step)


if __name__ == "__main__":
    main()
