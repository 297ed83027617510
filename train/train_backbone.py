"""Train the fidelity backbone (docs/model.md §8) on the literature protocol. Resumable, spans sessions.

  OMP_NUM_THREADS=1 /usr/bin/python3 train/train_backbone.py --run train/runs/bb --steps 22000 --l2-from 19000
Re-running resumes from <run>/ckpt.pt, else from the committed snapshot (--snapshot: EMA + model
weights, fresh optimiser moments). The learning rate is a cosine over --steps; --max-minutes stops
early with a checkpoint, so a long schedule runs as several sessions.
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import torch
import torch.nn.functional as F

from hitsr.backbone import Backbone, BackboneConfig
from hitsr.data import load_train, modcrop
from hitsr.protocol import degrade, resize_float
from hitsr.util import EMA, Logger, save_atomic, setup_threads

AUG_SCALES = (1.0, 0.8, 0.6)


def build_pairs(imgs, cache):
    """Per training image and augmentation scale: HR (mod 4), LR×2, LR×4 (uint8) and LR×4 before rounding."""
    if os.path.exists(cache):
        z = np.load(cache)
        n = len([k for k in z.files if k.startswith("hr")])
        return [dict(hr=z[f"hr{i}"], lr2=z[f"lr2_{i}"], lr4=z[f"lr4_{i}"], lr4f=z[f"lr4f_{i}"]) for i in range(n)]
    out = []
    for im in imgs:
        for a in AUG_SCALES:
            h, w = int(im.shape[0] * a) // 4 * 4, int(im.shape[1] * a) // 4 * 4
            if a == 1.0:
                hr = modcrop(im, 4)
            else:
                t = torch.from_numpy(im).permute(2, 0, 1)[None].double() / 255
                hr = (resize_float(t, h, w)[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
            lr2, _ = degrade(hr, 2)
            lr4, lr4f = degrade(hr, 4)
            out.append(dict(hr=hr, lr2=lr2, lr4=lr4, lr4f=lr4f))
    np.savez(cache, **{f"{k}{'_' if k != 'hr' else ''}{i}": p[k] for i, p in enumerate(out) for k in p})
    return out


class PairSampler:
    """Aligned random (LR, HR) crops for scale s with flips / rot90, deterministic given its state."""

    def __init__(self, pairs, seed):
        self.pairs = pairs
        self.rng = np.random.default_rng(seed)
        a = np.array([p["hr"].shape[0] * p["hr"].shape[1] for p in pairs], dtype=np.float64)
        self.p = a / a.sum()

    def batch(self, b, s, lr_px):
        lrs, hrs, lrfs = [], [], []
        while len(lrs) < b:
            pr = self.pairs[self.rng.choice(len(self.pairs), p=self.p)]
            lr = pr[f"lr{s}"]
            if lr.shape[0] < lr_px or lr.shape[1] < lr_px:
                continue
            y = int(self.rng.integers(0, lr.shape[0] - lr_px + 1))
            x = int(self.rng.integers(0, lr.shape[1] - lr_px + 1))
            crops = [lr[y:y + lr_px, x:x + lr_px], pr["hr"][y * s:(y + lr_px) * s, x * s:(x + lr_px) * s]]
            if s == 4:
                crops.append(pr["lr4f"][y:y + lr_px, x:x + lr_px])
            fh, fv, r = self.rng.random() < 0.5, self.rng.random() < 0.5, int(self.rng.integers(0, 4))
            out = []
            for c in crops:
                if fh:
                    c = c[:, ::-1]
                if fv:
                    c = c[::-1]
                out.append(np.ascontiguousarray(np.rot90(c, r)))
            lrs.append(out[0]); hrs.append(out[1])
            if s == 4:
                lrfs.append(out[2])
        t = lambda xs, d: torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().div(d)
        return t(lrs, 255.0), t(hrs, 255.0), (t(lrfs, 1.0) if lrfs else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="train/runs/bb")
    ap.add_argument("--snapshot", default="train/snapshots/backbone.pt")
    ap.add_argument("--steps", type=int, default=60000, help="length of the cosine schedule")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--px2", type=int, default=32, help="LR crop side for ×2 pairs")
    ap.add_argument("--px4", type=int, default=24, help="LR crop side for ×4 pairs")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--l2-from", type=int, default=0, help="switch from L1 to L2 (PSNR's loss) at this step")
    ap.add_argument("--until", type=int, default=0, help="stop at this step (the schedule stays --steps long)")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--ch", type=int, default=48)
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=200)
    ap.add_argument("--max-minutes", type=float, default=0)
    a = ap.parse_args()
    nth = setup_threads()
    os.makedirs(a.run, exist_ok=True)
    ck = os.path.join(a.run, "ckpt.pt")
    torch.manual_seed(a.seed)
    cfg = BackboneConfig(ch=a.ch, blocks=a.blocks)
    net = Backbone(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    pairs = build_pairs(load_train(), os.path.join(a.run, "..", "backbone_pairs.npz"))
    sampler = PairSampler(pairs, a.seed)
    ema = EMA(net, a.ema)
    step = 0
    if os.path.exists(ck):
        s = torch.load(ck, weights_only=False)
        net.load_state_dict(s["model"]); opt.load_state_dict(s["opt"]); ema.shadow = s["ema"]
        sampler.rng.bit_generator.state = s["sampler"]; torch.set_rng_state(s["torch_rng"]); step = s["step"]
        print(f"resumed at step {step}", flush=True)
    elif a.snapshot and os.path.exists(a.snapshot):
        s = torch.load(a.snapshot, weights_only=False)
        assert BackboneConfig.from_json(s["cfg"]) == cfg, "snapshot config differs"
        net.load_state_dict(s["model"]); ema.shadow = s["ema"]; step = s["step"]
        sampler.rng = np.random.default_rng([a.seed, step])
        print(f"resumed from snapshot {a.snapshot} at step {step} (fresh optimiser moments)", flush=True)
    log = Logger(os.path.join(a.run, "log.jsonl"))
    print(f"threads={nth} params={sum(p.numel() for p in net.parameters())} cfg={cfg.to_json()} "
          f"exported MAC/LR px={cfg.macs_per_lr_pixel()}", flush=True)
    t0, step0 = time.time(), step
    end = min(a.steps, a.until or a.steps)
    while step < end:
        lossf = F.mse_loss if a.l2_from and step >= a.l2_from else F.l1_loss
        lr = a.lr * min(1.0, (step + 1) / 500) * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        lr2, hr2, _ = sampler.batch(a.batch, 2, a.px2)
        lr4, hr4, lr4f = sampler.batch(a.batch, 4, a.px4)
        o2 = net(lr2, scales=[2])[2]
        o4 = net(lr4, scales=[1, 4])
        l2, l4, l1 = lossf(o2, hr2), lossf(o4[4], hr4), lossf(o4[1], lr4f)
        loss = l2 + l4 + l1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        ema.update(net, min(a.ema, (1 + step) / (10 + step)))
        if step % 20 == 0:
            el = time.time() - t0
            rec = dict(step=step, lr=lr, loss=float(loss), x1=float(l1), x2=float(l2), x4=float(l4),
                       sps=round((step - step0) / el, 3))
            log.log(**rec)
            if step % 200 == 0:
                print(rec, flush=True)
        done = step == end or (a.max_minutes and time.time() - t0 > a.max_minutes * 60)
        if step % a.ckpt_every == 0 or done:
            save_atomic(dict(model=net.state_dict(), opt=opt.state_dict(), ema=ema.shadow, step=step,
                             sampler=sampler.rng.bit_generator.state, torch_rng=torch.get_rng_state(),
                             cfg=cfg.to_json(), args=vars(a)), ck)
            save_atomic(dict(model=net.state_dict(), ema=ema.shadow, cfg=cfg.to_json(), step=step),
                        os.path.join(a.run, "snapshot.pt"))
        if done:
            break
    print("done", step, flush=True)


if __name__ == "__main__":
    main()
