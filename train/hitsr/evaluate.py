"""Evaluation: PSNR-Y / SSIM-Y (BT.601, border = scale shaved) on Set5 / Set14, tiled inference."""
import glob
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from .data import DATA, bicubic_up, load_dir, modcrop, resize_aa, resize_aa_hw, to_tensor


def to_y(img):
    """img [1,3,H,W] float in [0,1] -> Y [H,W] float64 in [16,235] after 8-bit rounding."""
    a = (img.clamp(0, 1) * 255).round()[0].double()
    return 16 + (65.481 * a[0] + 128.553 * a[1] + 24.966 * a[2]) / 255.0


def psnr_y(a, b, border):
    ya, yb = to_y(a), to_y(b)
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    mse = ((ya - yb) ** 2).mean().item()
    return 10 * math.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")


def _gauss(n=11, s=1.5):
    x = torch.arange(n, dtype=torch.float64) - n // 2
    g = torch.exp(-x ** 2 / (2 * s * s))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim_y(a, b, border):
    ya, yb = to_y(a), to_y(b)
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    x, y = ya[None, None], yb[None, None]
    w = _gauss()
    C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = F.conv2d(x, w), F.conv2d(y, w)
    sxx = F.conv2d(x * x, w) - mx * mx
    syy = F.conv2d(y * y, w) - my * my
    sxy = F.conv2d(x * y, w) - mx * my
    m = ((2 * mx * my + C1) * (2 * sxy + C2)) / ((mx * mx + my * my + C1) * (sxx + syy + C2))
    return m.mean().item()


def load_set(name):
    return load_dir(os.path.join(DATA, name, "HR"))


def _starts(L, t, stride):
    if L <= t:
        return [0]
    s = list(range(0, L - t + 1, stride))
    if s[-1] != L - t:
        s.append(L - t)
    return s


def _win(S, ramp):
    i = torch.arange(S, dtype=torch.float32)
    d = torch.minimum(i + 0.5, S - i - 0.5)
    return (d / ramp).clamp(max=1.0)


def tiled(fn, lr, scale, tile=16, overlap=4, batch=64, hr=None):
    """Run fn(lr_tiles [B,3,t,t]) -> [B,3,t*scale,t*scale] over the whole LR image, blending overlaps.
    With hr, fn also gets the matching HR tiles (for the tokenizer ceiling)."""
    _, _, H, W = lr.shape
    ys, xs = _starts(H, tile, tile - overlap), _starts(W, tile, tile - overlap)
    pos = [(y, x) for y in ys for x in xs]
    S = tile * scale
    w = _win(S, overlap * scale / 2 + 1e-6)
    w2 = (w[:, None] * w[None, :])[None]
    out = torch.zeros(3, H * scale, W * scale)
    acc = torch.zeros(1, H * scale, W * scale)
    for i in range(0, len(pos), batch):
        pp = pos[i:i + batch]
        t = torch.cat([lr[:, :, y:y + tile, x:x + tile] for y, x in pp], 0)
        if hr is None:
            o = fn(t)
        else:
            o = fn(t, torch.cat([hr[:, :, y * scale:y * scale + S, x * scale:x * scale + S] for y, x in pp], 0))
        for j, (y, x) in enumerate(pp):
            out[:, y * scale:y * scale + S, x * scale:x * scale + S] += o[j] * w2
            acc[:, y * scale:y * scale + S, x * scale:x * scale + S] += w2
    return (out / acc)[None]


def model_fn(tok, tr, scale):
    n = int(round(math.log2(scale)))

    def fn(t):
        _, imgs = tr.generate(tok, t, nseg=n + 1, decode={n})
        return imgs[n]
    return fn


def ceiling_fn(tok, scale):
    """HR's own tokens decoded. Segment m's image = HR tile resized to tile*2^m (segment 0 = LR tile)."""
    n = int(round(math.log2(scale)))
    cfg = tok.cfg

    def fn(t, th):
        imgs = [t] + [resize_aa(th, cfg.tile * 2 ** m) for m in range(1, n + 1)]
        if cfg.rq == "plain":
            # plain RQ needs the x4 image; use the HR tile upsized if evaluating x2 (only x4 is exact)
            imgs = [resize_aa(th, cfg.tile * 4) if th.shape[-1] != cfg.tile * 4 else th] * cfg.nseg
        Zs = tok.latents(imgs)
        idxs, fhats, _, _ = tok.quantize(Zs, nseg=None if cfg.rq == "plain" else n + 1)
        c = tok.cond_latent(t)
        return tok.decode_seg(fhats[n], c, n, t)
    return fn


@torch.no_grad()
def evaluate(methods, sets=("Set5", "Set14"), scales=(2, 4), overlap=4, log=print):
    """methods: dict name -> ('lr', fn(lr_tiles)) | ('hr', fn(lr_tiles, hr_tiles)) | 'bicubic'.
    Returns {(set, scale, name): (psnr, ssim)}."""
    res = {}
    for sname in sets:
        imgs = load_set(sname)
        for s in scales:
            acc = {m: [] for m in methods}
            for fname, im in imgs:
                hr = to_tensor(modcrop(im, s))
                lr = resize_aa_hw(hr, hr.shape[-2] // s, hr.shape[-1] // s)
                for m, spec in methods.items():
                    if spec == "bicubic":
                        sr = bicubic_up(lr, tuple(hr.shape[-2:]))
                    elif spec[0] == "lr":
                        sr = tiled(spec[1][s], lr, s, overlap=overlap)
                    else:
                        sr = tiled(spec[1][s], lr, s, overlap=overlap, hr=hr)
                    acc[m].append((psnr_y(sr, hr, s), ssim_y(sr, hr, s)))
            for m in methods:
                a = np.array(acc[m])
                res[(sname, s, m)] = (float(a[:, 0].mean()), float(a[:, 1].mean()))
                log(f"{sname} x{s} {m}: PSNR-Y {a[:, 0].mean():.3f} SSIM-Y {a[:, 1].mean():.4f}")
    return res
