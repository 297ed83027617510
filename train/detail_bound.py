"""How much PSNR must an output give up to raise the detail ratio (eval_v2.detail) by 0.1 over fidelity mode, when
the detail it adds is not the HR's? (Issue 10's detail route: +0.1 at <= 0.05 dB loss.) r is added to the fidelity
output's Y. If r is uncorrelated with the output's error, it costs |r|^2 of MSE, and the r of a given |r|^2 that
raises |L(y + r)|^2 most (L the Laplacian, W = |L|^2 its power response) is r = t * IFFT[W Y / (lam - W)], lam > max W
= 64 (the trust-region solution): large lam is the biharmonic filter L'L y, lam -> 64 peaks at the Nyquist frequency.
A checkerboard, the pure artefact, is the other extreme. t is solved for on the set's mean detail ratio.

  /usr/bin/python3 train/detail_bound.py --sets Set5,Set14 --scale 4
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import torch

from eval_v2 import detail
from hitsr.backbone import load_backbone
from hitsr.data import load_dir, DATA
from hitsr.evaluate import psnr_y
from hitsr.protocol import degrade
from hitsr.util import setup_threads

Y_PER_RGB = 219 / 255  # the same shift on R, G and B moves BT.601 Y by this much


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="train/snapshots/backbone.pt")
    ap.add_argument("--sets", default="Set5,Set14")
    ap.add_argument("--scale", type=int, default=4)
    a = ap.parse_args()
    setup_threads()
    bb, _ = load_backbone(a.backbone)
    sc = a.scale
    for sname in a.sets.split(","):
        imgs = []
        for _, im in load_dir(os.path.join(DATA, sname, "HR")):
            im = im[:im.shape[0] // sc * sc, :im.shape[1] // sc * sc]
            hr = torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255
            x = torch.from_numpy(degrade(im, sc)[0]).permute(2, 0, 1)[None].float() / 255
            with torch.no_grad():
                y = bb(x, scales=[sc])[sc].double()
            yy = 65.481 * y[0, 0] + 128.553 * y[0, 1] + 24.966 * y[0, 2]
            u = torch.fft.fftfreq(yy.shape[0], dtype=torch.float64)[:, None] * 2 * np.pi
            v = torch.fft.fftfreq(yy.shape[1], dtype=torch.float64)[None, :] * 2 * np.pi
            i, j = torch.meshgrid(torch.arange(yy.shape[0]), torch.arange(yy.shape[1]), indexing="ij")
            imgs.append(dict(hr=hr, y=y, fy=torch.fft.fft2(yy), w=(4 - 2 * torch.cos(u) - 2 * torch.cos(v)) ** 2,
                             cb=((i + j) % 2 * 2 - 1).double(), d_hr=detail(hr)))

        def score(residual):  # residual(img) -> r in Y units (0-255); set means of PSNR-Y and detail ratio
            p, d = [], []
            for m in imgs:
                out = m["y"] + residual(m)[None, None] / 255 / Y_PER_RGB
                p.append(psnr_y(out, m["hr"], sc)); d.append(detail(out) / m["d_hr"])
            return np.mean(p), np.mean(d)

        p0, d0 = score(lambda m: torch.zeros_like(m["cb"]))
        print(f"{sname} x{sc}: fidelity {p0:.3f} dB / detail {d0:.3f}; the route needs detail >= {d0 + .1:.3f} "
              f"at >= {p0 - .05:.3f} dB", flush=True)

        def cheapest(shape):  # smallest t with detail >= d0 + 0.1 (bisection), its score
            lo, hi = 0.0, 1e-3
            while score(lambda m: hi * shape(m))[1] < d0 + .1:
                hi *= 2
            for _ in range(25):
                t = (lo + hi) / 2
                lo, hi = (t, hi) if score(lambda m: t * shape(m))[1] < d0 + .1 else (lo, t)
            return score(lambda m: hi * shape(m))

        shapes = {f"filter, lam {lam:g}": (lambda lam: lambda m: torch.fft.ifft2(
            m["w"] * m["fy"] / (lam - m["w"])).real)(lam) for lam in (64.5, 66, 80, 1e4)}
        shapes["checkerboard"] = lambda m: m["cb"]
        for name, shape in shapes.items():
            p, d = cheapest(shape)
            print(f"  {name:16s} {p:.3f} dB ({p - p0:+.3f}) / detail {d:.3f}", flush=True)


if __name__ == "__main__":
    main()
