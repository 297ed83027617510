"""FLOPs per output pixel of one tile pass (x1+x2+x4 from one pass), counted with forward hooks on conv/linear
plus attention matmuls. multiply-add = 2 FLOPs. Reported per x4 output pixel (tile*4)^2.

  /usr/bin/python3 train/flops.py [--model models/hitsr-tiny.safetensors]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
import torch.nn as nn

from hitsr.config import SHIPPED
from hitsr.export import import_model
from hitsr.tokenizer import Tokenizer
from hitsr.transformer import Attn, Transformer


def count(cfg, tok, tr):
    tot = {"tok": 0, "tr": 0}

    def hook(kind):
        def h(m, i, o):
            if isinstance(m, nn.Conv2d):
                tot[kind] += 2 * o.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            elif isinstance(m, nn.Linear):
                tot[kind] += 2 * o.numel() * m.in_features
        return h

    for mod in tok.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            mod.register_forward_hook(hook("tok"))
    for mod in tr.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            mod.register_forward_hook(hook("tr"))
    # attention: count keys via cache length after call
    orig = Attn.forward

    def fwd(self, x, mask=None, cache=None):
        y = orig(self, x, mask, cache)
        S = cache["k"].shape[2] if cache is not None else x.shape[1]
        tot["tr"] += 2 * 2 * x.shape[0] * x.shape[1] * S * x.shape[2]
        return y
    Attn.forward = fwd
    with torch.no_grad():
        tr.generate(tok, torch.rand(1, 3, cfg.tile, cfg.tile))
    Attn.forward = orig
    px = (cfg.tile * 4) ** 2
    return tot["tok"], tot["tr"], px


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="")
    a = ap.parse_args()
    if a.model and os.path.exists(a.model):
        cfg, tok, tr = import_model(a.model)
    else:
        cfg = SHIPPED
        tok, tr = Tokenizer(cfg), Transformer(cfg)
    t, r, px = count(cfg, tok, tr)
    print(f"tokenizer {t/1e6:.1f} MFLOP, transformer {r/1e6:.1f} MFLOP per tile; "
          f"{(t + r)/px:.0f} FLOP per x4 output pixel ({px} px); params tok {sum(p.numel() for p in tok.parameters())/1e6:.3f}M "
          f"tr {sum(p.numel() for p in tr.parameters())/1e6:.3f}M")


if __name__ == "__main__":
    main()
