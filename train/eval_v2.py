"""Model v2 on the literature protocol (docs/model.md §9), PyTorch side: PSNR-Y / SSIM-Y and the detail
ratio (variance of the Laplacian of Y, output over HR) for the backbone (fidelity mode), the token path
(full mode; "mean": its posterior-mean decoding), its ceiling (the HR's own tokens) and "backproject"
(fidelity mode made consistent with its LR: two gradient steps on |D(out) - LR|^2, D the protocol's downscale). The Go engine's `hitsr-video eval` is the reference
for shipped figures; this is for training.

  /usr/bin/python3 train/eval_v2.py --tokpath train/runs/tp/snapshot.pt --sets Set5 --scales 4
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import torch
import torch.nn.functional as F

from hitsr.backbone import load_backbone
from hitsr.config import Config
from hitsr.data import load_dir, DATA
from hitsr.evaluate import psnr_y, ssim_y, to_y
from hitsr.fullv2 import upscale
from hitsr.protocol import degrade, resize_float
from hitsr.tokpath import TokPath
from hitsr.transformer import Transformer
from hitsr.util import setup_threads


def detail(img):
    """Variance of the 3×3 Laplacian of Y (8-bit rounded)."""
    y = to_y(img)[None, None]
    k = torch.tensor([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=y.dtype)[None, None]
    return float(F.conv2d(y, k).var())


def backproject(out, lr, steps=2):
    """Gradient steps (step size scale², which converges here in two) on ½|D(out) − lr|², D the protocol's
    antialiased bicubic downscale."""
    h, w = lr.shape[-2:]
    y = out.detach().double().requires_grad_(True)
    step = (y.shape[-1] / w) ** 2
    for _ in range(steps):
        loss = 0.5 * (resize_float(y, h, w) - lr.double()).pow(2).sum()
        g, = torch.autograd.grad(loss, y)
        y = (y - step * g).detach().requires_grad_(True)
    return y.detach().float()


def load(path):
    s = torch.load(path, weights_only=False)
    cfg = Config.from_json(s["cfg"])
    tp, tr = TokPath(cfg), Transformer(cfg)
    tp.load_state_dict(s["tp"]); tr.load_state_dict(s["tr"])
    return tp.eval(), tr.eval(), s


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokpath", default="train/runs/tp/snapshot.pt")
    ap.add_argument("--backbone", default="train/snapshots/backbone.pt")
    ap.add_argument("--sets", default="Set5,Set14")
    ap.add_argument("--scales", default="2,4")
    ap.add_argument("--methods", default="fidelity,full,ceiling")
    a = ap.parse_args()
    setup_threads()
    bb, _ = load_backbone(a.backbone)
    tp, tr, s = load(a.tokpath)
    methods = a.methods.split(",")
    print(f"token path: stage {s['stage']} step {s['step']}")
    for sname in a.sets.split(","):
        imgs = load_dir(os.path.join(DATA, sname, "HR"))
        for sc in [int(v) for v in a.scales.split(",")]:
            n = int(np.log2(sc))
            acc = {m: [] for m in methods}
            for _, im in imgs:
                im = im[:im.shape[0] // sc * sc, :im.shape[1] // sc * sc]
                lr_u8, lr_f = degrade(im, sc)
                hr = torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255
                x = torch.from_numpy(lr_u8).permute(2, 0, 1)[None].float() / 255
                for m in methods:
                    if m == "ceiling" and tp.cfg.rq == "plain" and n + 1 < tp.cfg.nseg:
                        continue  # plain RQ's tokens come from the ×4 image alone: no ceiling below ×4
                    if m == "fidelity":
                        out = bb(x, scales=[sc])[sc]
                    elif m == "backproject":
                        with torch.enable_grad():
                            out = backproject(bb(x, scales=[sc])[sc], x)
                    elif m in ("full", "mean"):
                        out = upscale(bb, tp, tr, x, nseg=n + 1, mean=m == "mean")[0][sc]
                    else:
                        t = torch.from_numpy(lr_f).permute(2, 0, 1)[None]
                        segs = [t] + [resize_float(hr, *(np.array(hr.shape[-2:]) * 2 ** k // sc)).float()
                                      for k in range(1, n + 1)]
                        out = upscale(bb, tp, tr, x, nseg=n + 1, targets=segs)[0][sc]
                    acc[m].append((psnr_y(out, hr, sc), ssim_y(out, hr, sc), detail(out) / detail(hr)))
            for m in [m for m in methods if acc[m]]:
                v = np.array(acc[m]).mean(0)
                print(f"{sname} x{sc} {m:9s} PSNR-Y {v[0]:.3f} SSIM-Y {v[1]:.4f} detail {v[2]:.3f}", flush=True)


if __name__ == "__main__":
    main()
