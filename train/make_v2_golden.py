"""Model v2 golden files for Go parity (testdata/golden/), docs/model.md §10:

  v2_model.safetensors  a random-init tiny model: backbone (bb.*, folded) + token path (quant.*, dec.*)
                        + transformer, every output conv non-zero
  v2_io.safetensors     per input frame (one larger than a tile with shifted edge tiles, one smaller
                        than a tile): input, outputs ×1/×2/×4, the token ids per scale, and the ×2-only
                        (early exit) outputs; <frame>.sampled.out.* / .ids.*: the same pass with top-k
                        sampling (SAMPLE, in the metadata as sample_topk, sample_temperature, sample_seed)
  shipped_v2_io.safetensors  the same for the shipped model (--shipped FILE), one frame
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch

from hitsr.backbone import Backbone, BackboneConfig
from hitsr.config import TINY_V2, Config
from hitsr.export import load_safetensors, save_safetensors
from hitsr.fullv2 import upscale
from hitsr.imageio import read_image
from hitsr.tokpath import TokPath, export_state
from hitsr.transformer import Transformer
from make_backbone_golden import GOLDEN, from_file, sample

FRAMES = {"a": (19, 27), "b": (5, 7)}
SAMPLE = {"topk": 6, "temperature": 6.0, "seed": 20261130}  # the tiny model's logits are ×20: a hot T


def load_v2(path):
    """(backbone, token path, transformer) from a model file."""
    ts, meta = load_safetensors(path)
    cfg = Config.from_json(meta["config"])
    tp, tr = TokPath(cfg), Transformer(cfg)
    sd = {k: v.float() for k, v in ts.items()}
    tp.load_state_dict({k: sd[k] for k in tp.state_dict() if not k.startswith("enc.")}, strict=False)
    tr.load_state_dict({k: sd[k] for k in tr.state_dict()})
    return from_file(path), tp.eval(), tr.eval()


def io(bb, tp, tr, frames, model_name, sample=None):
    """Golden tensors per frame; with sample (SAMPLE's keys) also the sampled pass."""
    out, meta = {}, {"model": model_name}
    for name, x in frames.items():
        ys, ids = upscale(bb, tp, tr, x)
        y2, ids2 = upscale(bb, tp, tr, x, nseg=2)
        assert all(torch.equal(a, b) for a, b in zip(ids, ids2)), "early exit changed the ×1/×2 tokens"
        out[f"{name}.input"] = x
        for s, y in ys.items():
            out[f"{name}.out.{s}"] = y
        for k, i in enumerate(ids):
            out[f"{name}.ids.{k}"] = i.int()
        if sample:
            ys, sids = upscale(bb, tp, tr, x, **sample)
            changed = sum(int((a != b).sum()) for a, b in zip(ids, sids))
            assert changed, "sampling drew the greedy tokens everywhere: raise the temperature"
            print(f"{name}: {changed} of {sum(i.numel() for i in ids)} sampled tokens differ from greedy")
            for s, y in ys.items():
                out[f"{name}.sampled.out.{s}"] = y
            for k, i in enumerate(sids):
                out[f"{name}.sampled.ids.{k}"] = i.int()
    if sample:
        meta.update({f"sample_{k}": str(v) for k, v in sample.items()})
    return out, meta


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shipped", default="", help="model file: also write shipped_v2_io")
    a = ap.parse_args()
    torch.manual_seed(0)
    cfg = TINY_V2
    bb = Backbone(BackboneConfig(ch=cfg.cond_ch, blocks=2, k_in=5, scales=[1, 2, 4]))
    tp, tr = TokPath(cfg), Transformer(cfg)
    for m in (bb, tp, tr):
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))  # zero-initialised outputs: make every path count
    with torch.no_grad():
        for p in list(tr.head.parameters()) + list(tr.cond_proj.parameters()):  # condition-dependent ids, clear margins
            p.mul_(20)
    bb.eval()
    ts = {**bb.export_state(), **export_state(tp, tr)}
    path = os.path.join(GOLDEN, "v2_model.safetensors")
    save_safetensors(path, ts, {"backbone": bb.cfg.to_json(), "config": cfg.to_json()})
    bb2, tp2, tr2 = load_v2(path)
    frames = {k: sample(*hw) for k, hw in FRAMES.items()}
    out, meta = io(bb2, tp2, tr2, frames, "v2_model.safetensors", SAMPLE)
    save_safetensors(os.path.join(GOLDEN, "v2_io.safetensors"), out, meta)
    if a.shipped:
        out, meta = io(*load_v2(a.shipped), {"a": sample(45, 64)}, os.path.relpath(a.shipped))
        save_safetensors(os.path.join(GOLDEN, "shipped_v2_io.safetensors"), out, meta)


if __name__ == "__main__":
    main()
