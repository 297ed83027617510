"""Backbone PSNR-Y / SSIM-Y on the literature protocol (docs/model.md §8), whole images, with the
bicubic row from the same run. Used to follow a training run; `hitsr-video eval` is the reference.

  /usr/bin/python3 train/eval_backbone.py --run train/runs/bb [--sets Set5,Set14] [--out res.json]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch

from hitsr.backbone import load_backbone
from hitsr.data import load_dir, DATA, modcrop
from hitsr.evaluate import psnr_y, ssim_y
from hitsr.protocol import bicubic_baseline, degrade
from hitsr.util import setup_threads


def evaluate(net, sets, scales):
    res = {}
    for sname in sets:
        imgs = load_dir(os.path.join(DATA, sname, "HR"))
        for s in scales:
            acc = {"bicubic": [], "backbone": []}
            for _, im in imgs:
                hr_u8 = modcrop(im, s)
                lr_u8, _ = degrade(hr_u8, s)
                t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
                hr, lr = t(hr_u8), t(lr_u8)
                outs = {"bicubic": bicubic_baseline(lr, *hr.shape[-2:]), "backbone": net(lr, scales=[s])[s]}
                for m, o in outs.items():
                    acc[m].append((psnr_y(o, hr, s), ssim_y(o, hr, s)))
            for m, v in acc.items():
                res[f"{sname} x{s} {m}"] = [sum(x[0] for x in v) / len(v), sum(x[1] for x in v) / len(v)]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="train/runs/bb")
    ap.add_argument("--sets", default="Set5,Set14")
    ap.add_argument("--scales", default="2,4")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    setup_threads()
    torch.set_grad_enabled(False)
    net, step = load_backbone(a.run)
    res = evaluate(net, a.sets.split(","), [int(s) for s in a.scales.split(",")])
    for k, (p, q) in res.items():
        print(f"step {step} {k}: PSNR-Y {p:.3f} SSIM-Y {q:.4f}", flush=True)
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(dict(step=step, res=res), fh, indent=1)


if __name__ == "__main__":
    main()
