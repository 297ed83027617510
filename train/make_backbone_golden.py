"""Backbone golden files for Go parity (testdata/golden/):

  backbone_model.safetensors  a random-init small backbone (seed 0, heads not zero), folded
  backbone_io.safetensors     its input (odd-sized crop of testdata/sample.png), trunk features and
                              each scale's output, computed with the unfolded training form
  shipped_bb_io.safetensors   input and outputs of the shipped model's backbone (--shipped FILE)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch

from hitsr.backbone import Backbone, BackboneConfig
from hitsr.export import load_safetensors, save_safetensors
from hitsr.imageio import read_image

GOLDEN = "testdata/golden"


def sample(h, w):
    im = read_image("testdata/sample.png")
    return torch.from_numpy(im[:h, :w].copy()).permute(2, 0, 1)[None].float() / 255


def from_file(path):
    """A Backbone (folded form) with the bb.* tensors of a model file."""
    ts, meta = load_safetensors(path)
    cfg = BackboneConfig.from_json(meta["backbone"])
    net = Backbone(cfg).fold()
    sd = {"conv_in.weight": ts["bb.conv_in.weight"], "conv_in.bias": ts["bb.conv_in.bias"]}
    for i in range(cfg.blocks):
        sd[f"blocks.{i}.k3.weight"], sd[f"blocks.{i}.k3.bias"] = ts[f"bb.block.{i}.weight"], ts[f"bb.block.{i}.bias"]
    for s in cfg.scales:
        sd[f"heads.{s}.k3.weight"], sd[f"heads.{s}.k3.bias"] = ts[f"bb.head.{s}.weight"], ts[f"bb.head.{s}.bias"]
    net.load_state_dict({k: v.float() for k, v in sd.items()})
    return net.eval()


@torch.no_grad()
def io(net, x, model_name):
    out = {"input": x, "features": net.features(x)}
    for s, y in net(x).items():
        out[f"out.{s}"] = y
    return out, {"model": model_name}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shipped", default="", help="model file: also write shipped_bb_io")
    a = ap.parse_args()
    torch.manual_seed(0)
    cfg = BackboneConfig(ch=8, blocks=2, k_in=5, scales=[1, 2, 4])
    net = Backbone(cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))  # heads are zero-initialised: make every path count
    net.eval()
    save_safetensors(os.path.join(GOLDEN, "backbone_model.safetensors"), net.export_state(),
                     {"backbone": cfg.to_json()})
    out, meta = io(net, sample(23, 37), "backbone_model.safetensors")
    folded = from_file(os.path.join(GOLDEN, "backbone_model.safetensors"))
    ref, _ = io(folded, out["input"], "")
    for k in out:
        assert torch.allclose(out[k], ref[k], atol=1e-5), f"fold changed {k}"
    save_safetensors(os.path.join(GOLDEN, "backbone_io.safetensors"), out, meta)
    if a.shipped:
        out, meta = io(from_file(a.shipped), sample(45, 64), os.path.relpath(a.shipped))
        save_safetensors(os.path.join(GOLDEN, "shipped_bb_io.safetensors"), out, meta)


if __name__ == "__main__":
    main()
