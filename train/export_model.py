"""Export tokenizer (EMA) + transformer (EMA) to models/hitsr-tiny.safetensors (fp32, config in metadata).

  /usr/bin/python3 train/export_model.py --tok train/runs/tok --tr train/runs/tr --out models/hitsr-tiny.safetensors
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch

from hitsr.ckpt import load_tokenizer
from hitsr.export import export_model
from hitsr.transformer import Transformer
from hitsr.util import setup_threads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tok", default="train/runs/tok")
    ap.add_argument("--tr", default="train/runs/tr")
    ap.add_argument("--out", default="models/hitsr-tiny.safetensors")
    ap.add_argument("--fp16", action="store_true")
    a = ap.parse_args()
    setup_threads()
    cfg, tok = load_tokenizer(a.tok)
    tr = Transformer(cfg)
    s = torch.load(os.path.join(a.tr, "tr_ema.pt") if os.path.isdir(a.tr) else a.tr)
    tr.load_state_dict(s["ema"])
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    ts = torch.load(os.path.join(a.tok, "tok_ema.pt"))["step"] if os.path.isdir(a.tok) else -1
    export_model(a.out, cfg, tok, tr, dtype=torch.float16 if a.fp16 else torch.float32,
                 extra_meta={"tokenizer_steps": str(ts), "transformer_steps": str(s.get("step", -1))})
    print(a.out, os.path.getsize(a.out), "bytes")


if __name__ == "__main__":
    main()
