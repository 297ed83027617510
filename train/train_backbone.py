"""Train the fidelity backbone (docs/model.md §8) on the literature protocol. Resumable, spans sessions.

  OMP_NUM_THREADS=1 /usr/bin/python3 train/train_backbone.py --run train/runs/bb --steps 22000 --l2-from 19000
Re-running resumes from <run>/ckpt.pt, else from the committed snapshot (--snapshot: EMA + model
weights, fresh optimiser moments). The learning rate is a cosine over --steps; --max-minutes stops
early with a checkpoint, so a long schedule runs as several sessions.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import torch
import torch.nn.functional as F

from hitsr.backbone import Backbone, BackboneConfig, bicubic_up
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
    # Device options (docs/training.md, "GPU device check"). Left at their defaults, the run above is
    # unchanged; any of them runs main_device() instead.
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda (channels-last, fp32 master weights)")
    ap.add_argument("--amp", choices=["none", "bf16"], default="none",
                    help="autocast the trunk and head convs to bf16 (bicubic skip, sums and losses stay fp32)")
    ap.add_argument("--pack", default="", help="sample crops from a packed set (train/pack_backbone.py) on the device")
    ap.add_argument("--val-tiles", type=int, default=0,
                    help="with --pack: hold out its last N tiles (-1: the pack's held-out images); PSNR-Y of the EMA "
                         "on them at the start and end")
    ap.add_argument("--minutes", type=float, default=0,
                    help="wall-time budget: the cosine runs over this time from the start step (after --warmup "
                         "steps of warm-up), so the step count is set by the device's speed; then stop with a checkpoint")
    ap.add_argument("--deadline", type=float, default=0,
                    help="as --minutes, the budget ending at this Unix time (counted from the training loop's start)")
    ap.add_argument("--l2-frac", type=float, default=0,
                    help="with --minutes / --deadline: L2 instead of L1 from this fraction of the budget on")
    ap.add_argument("--warmup", type=int, default=200, help="with --minutes: warm-up steps counted from the start step")
    ap.add_argument("--ckpt-seconds", type=float, default=60, help="with --minutes: checkpoint every N seconds")
    ap.add_argument("--summary", default="", help="write a JSON summary of the run (steps, speed, losses, PSNR)")
    a = ap.parse_args()
    if (a.device, a.amp, a.pack, a.val_tiles, a.minutes, a.deadline, a.summary) != ("cpu", "none", "", 0, 0, 0, ""):
        return main_device(a)
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


def _cpu(obj):
    """A state (nested dicts / lists of tensors) on the CPU, contiguous: loadable anywhere."""
    if torch.is_tensor(obj):
        return obj.detach().to("cpu").contiguous()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def device_forward(net, x, scales, amp):
    """Backbone.forward with the trunk and head convs under autocast (amp: a dtype or None) and the
    bicubic skip, pixel shuffle and sums in fp32; equal to net(x, scales) when amp is None."""
    with torch.autocast(device_type=x.device.type, dtype=amp or torch.bfloat16, enabled=amp is not None):
        t = net.features(x)
        ys = {s: net.heads[str(s)](t) for s in scales}
    out = {}
    for s in scales:
        y = ys[s].float()
        out[s] = x + y if s == 1 else bicubic_up(x, s) + F.pixel_shuffle(y, s)
    return out


@torch.no_grad()
def val_psnr(net, tiles, n, dev):
    """Mean PSNR-Y (BT.601 of 8-bit-rounded RGB, s px shaved, hitsr/evaluate.py's) of net and of the
    protocol bicubic on the last n tiles of a pack, whole tiles at ×2 and ×4."""
    from hitsr.protocol import bicubic_baseline

    def y8(img):
        a = (img.clamp(0, 1) * 255).round().double()
        return 16 + (65.481 * a[:, 0] + 128.553 * a[:, 1] + 24.966 * a[:, 2]) / 255.0

    def psnr(o, hr, s):
        mse = ((y8(o) - y8(hr))[:, s:-s, s:-s] ** 2).mean(dim=(1, 2))
        return float((10 * torch.log10(255.0 ** 2 / mse.clamp_min(1e-12))).mean())

    t = lambda k: torch.from_numpy(np.ascontiguousarray(tiles[k][-n:])).to(dev).permute(0, 3, 1, 2).float() / 255
    hr, res = t("hr"), {}
    for s in (2, 4):
        lr = t(f"lr{s}")
        res[f"x{s}"] = round(psnr(torch.cat([net(lr[i:i + 64], scales=[s])[s] for i in range(0, n, 64)]), hr, s), 3)
        res[f"x{s}_bicubic"] = round(psnr(bicubic_baseline(lr.cpu(), *hr.shape[-2:]).to(dev), hr, s), 3)
    return res


def main_device(a):
    """The device path (--device / --amp / --pack / --minutes): same model, losses, EMA and checkpoint
    format as main(); crops from a pack are gathered on the device; snapshots are saved on the CPU."""
    from hitsr import pack as packmod

    nth = setup_threads()
    dev = torch.device(a.device)
    amp = torch.bfloat16 if a.amp == "bf16" else None
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    os.makedirs(a.run, exist_ok=True)
    ck = os.path.join(a.run, "ckpt.pt")
    torch.manual_seed(a.seed)
    cfg = BackboneConfig(ch=a.ch, blocks=a.blocks)
    net = Backbone(cfg).to(dev)
    if cuda:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    tiles = None
    if a.pack:
        tiles, meta = packmod.load(a.pack)
        if a.val_tiles < 0:
            a.val_tiles = meta.get("val_tiles", 0)
        sampler = packmod.PackSampler(tiles, a.seed, dev, hold_out=a.val_tiles)
        print(f"pack {a.pack}: {sampler.n} training tiles (+{a.val_tiles} held out) of {meta['tile']} px, "
              f"{meta['hr_mpx']} HR Mpx from {meta['source']}", flush=True)
    else:
        sampler = PairSampler(build_pairs(load_train(), os.path.join(a.run, "..", "backbone_pairs.npz")), a.seed)
    ema = EMA(net, a.ema)
    step, start = 0, "scratch"
    if os.path.exists(ck):
        s = torch.load(ck, map_location="cpu", weights_only=False)
        net.load_state_dict(s["model"]); opt.load_state_dict(s["opt"]); ema.shadow = s["ema"]
        sampler.rng.bit_generator.state = s["sampler"]; torch.set_rng_state(s["torch_rng"]); step = s["step"]
        start = f"{ck} step {step}"
    elif a.snapshot and os.path.exists(a.snapshot):
        s = torch.load(a.snapshot, map_location="cpu", weights_only=False)
        assert BackboneConfig.from_json(s["cfg"]) == cfg, "snapshot config differs"
        net.load_state_dict(s["model"]); ema.shadow = s["ema"]; step = s["step"]
        sampler.rng = np.random.default_rng([a.seed, step])
        start = f"snapshot {a.snapshot} step {step} (fresh optimiser moments)"
    ema.shadow = {k: v.to(dev) for k, v in ema.shadow.items()}
    print(f"device={dev} ({torch.cuda.get_device_name(dev) if cuda else 'cpu'}) amp={a.amp} threads={nth} "
          f"batch={a.batch} start={start} params={sum(p.numel() for p in net.parameters())} cfg={cfg.to_json()}",
          flush=True)
    log = Logger(os.path.join(a.run, "log.jsonl"))
    ema_net = lambda: ema.copy_to(net).eval()
    val0 = val_psnr(ema_net(), tiles, a.val_tiles, dev) if tiles is not None and a.val_tiles else None
    if val0:
        print("held-out tiles, EMA at start:", val0, flush=True)
    fkeys = [k for k, v in ema.shadow.items() if v.dtype.is_floating_point]

    def save():
        save_atomic(dict(model=_cpu(net.state_dict()), opt=_cpu(opt.state_dict()), ema=_cpu(ema.shadow), step=step,
                         sampler=sampler.rng.bit_generator.state, torch_rng=torch.get_rng_state(),
                         cfg=cfg.to_json(), args=vars(a)), ck)
        save_atomic(dict(model=_cpu(net.state_dict()), ema=_cpu(ema.shadow), cfg=cfg.to_json(), step=step),
                    os.path.join(a.run, "snapshot.pt"))

    t0, step0, last_ck = time.time(), step, time.time()
    timed = bool(a.minutes or a.deadline)
    budget = min(x for x in (a.minutes * 60 if a.minutes else None, a.deadline - t0 if a.deadline else None) if x is not None) \
        if timed else 0
    if timed:
        print(f"wall-time budget {budget:.0f} s", flush=True)
    end = min(a.steps, a.until or a.steps)
    hist = []
    while timed or step < end:
        el = time.time() - t0
        lossf = F.mse_loss if (a.l2_from and step >= a.l2_from) or (timed and a.l2_frac and el >= a.l2_frac * budget) \
            else F.l1_loss
        if timed:
            lr = a.lr * min(1.0, (step - step0 + 1) / a.warmup) * \
                (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, el / max(budget, 1e-9)))))
        else:
            lr = a.lr * min(1.0, (step + 1) / 500) * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        lr2, hr2, _ = sampler.batch(a.batch, 2, a.px2)
        lr4, hr4, lr4f = sampler.batch(a.batch, 4, a.px4)
        lr2, hr2, lr4, hr4, lr4f = (t.to(dev, non_blocking=True) for t in (lr2, hr2, lr4, hr4, lr4f))
        if cuda:
            lr2, lr4 = lr2.contiguous(memory_format=torch.channels_last), lr4.contiguous(memory_format=torch.channels_last)
        o2 = device_forward(net, lr2, [2], amp)[2]
        o4 = device_forward(net, lr4, [1, 4], amp)
        l2, l4, l1 = lossf(o2, hr2), lossf(o4[4], hr4), lossf(o4[1], lr4f)
        loss = l2 + l4 + l1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        d = min(a.ema, (1 + step) / (10 + step))
        with torch.no_grad():  # EMA.update, batched: the same arithmetic in a few kernels
            sh, cur = [ema.shadow[k] for k in fkeys], net.state_dict()
            torch._foreach_mul_(sh, d)
            torch._foreach_add_(sh, [cur[k].detach() for k in fkeys], alpha=1 - d)
        if step % 20 == 0:
            el = time.time() - t0
            rec = dict(step=step, lr=lr, loss=float(loss), x1=float(l1), x2=float(l2), x4=float(l4),
                       sps=round((step - step0) / el, 3))
            log.log(**rec)
            hist.append(rec)
            if step % 200 == 0:
                print(rec, flush=True)
        now = time.time()
        done = (now - t0 >= budget) if timed else \
            (step == end or (a.max_minutes and now - t0 > a.max_minutes * 60))
        if done or (now - last_ck >= a.ckpt_seconds if timed else step % a.ckpt_every == 0):
            save()
            last_ck = time.time()
        if done:
            break
    wall = time.time() - t0
    print("done", step, flush=True)
    res = dict(device=str(dev), gpu=torch.cuda.get_device_name(dev) if cuda else None, torch=torch.__version__,
               amp=a.amp, batch=a.batch, px2=a.px2, px4=a.px4, lr=a.lr, start=start, start_step=step0,
               end_step=step, steps=step - step0, wall_s=round(wall, 1),
               steps_per_s=round((step - step0) / max(wall, 1e-9), 3),
               crops_per_s=round(2 * a.batch * (step - step0) / max(wall, 1e-9), 1), pack=a.pack or None,
               last=({k: round(sum(r[k] for r in hist[-10:]) / len(hist[-10:]), 6) for k in ("loss", "x1", "x2", "x4")}
                     if hist else None))
    if val0:
        res["val_tiles"], res["val_start"] = a.val_tiles, val0
        res["val_end"] = val_psnr(ema_net(), tiles, a.val_tiles, dev)
        print("held-out tiles, EMA at end:", res["val_end"], flush=True)
    if cuda:
        res["max_mem_gib"] = round(torch.cuda.max_memory_allocated(dev) / 2 ** 30, 2)
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(res, f, indent=1)
    print("summary", json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
