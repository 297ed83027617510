"""Model v2 over a whole frame (docs/model.md §10): the backbone once, the token path per tile, the
residuals written over the backbone's outputs. The reference the Go engine's full mode matches."""
import torch
import torch.nn.functional as F

from .tokpath import cond_of
from .evaluate import _starts


def tile_origins(L: int, T: int):
    """0, T, 2T, … while a tile fits, then one tile ending at the edge; a side < T has one tile."""
    return _starts(L, T, T)


@torch.no_grad()
def upscale(bb, tp, tr, x, nseg=None, topk=0, seed=None, temperature=1.0, targets=None, mean=False):
    """x [1,3,H,W] in [0,1] → ({2^n: output}, token ids per scale [tiles, p²]) for segments < nseg.
    topk > 0 samples each tile's tokens keyed by its origin (docs/model.md §10, Sampling).
    targets (the ceiling, training code only): the true images per segment, whose tokens replace the
    transformer's. mean: decode each scale's expected code (given the tokens before it) in place of its token."""
    cfg = tp.cfg
    T, nseg = cfg.tile, nseg or cfg.nseg
    H, W = x.shape[-2:]
    xp = F.pad(x, (0, max(0, T - W), 0, max(0, T - H)), mode="replicate")
    t = bb.features(xp)
    outs = {2 ** n: bb.head(t, xp, 2 ** n) for n in range(nseg)}
    g = tp.dec.feat(F.pad(t, (1, 1, 1, 1)))
    tiles = [(y, x0) for y in tile_origins(xp.shape[-2], T) for x0 in tile_origins(xp.shape[-1], T)]
    crop = lambda m, s: torch.cat([m[..., y * s:(y + T) * s, x0 * s:(x0 + T) * s] for y, x0 in tiles])
    if targets is None:
        ids, _, logits = tr.generate(tp, None, cond=cond_of(cfg, crop(t, 1)), decode=set(), nseg=nseg, topk=topk,
                                     seed=seed, temperature=temperature, origins=tiles, return_logits=True)
    else:
        pads = [F.pad(y, (0, max(0, T - W) * 2 ** n, 0, max(0, T - H) * 2 ** n), mode="replicate")
                for n, y in enumerate(targets)]
        ids = tp.quantize(tp.latents([crop(p, 2 ** n) for n, p in enumerate(pads)],
                                     [crop(outs[2 ** n], 2 ** n) for n in range(nseg)]))[0]
    fhats = tp.replay_mean(torch.cat(logits, 1)) if mean else tp.replay(ids)[1]
    g_t = crop(g, 1)
    for n, fh in enumerate(fhats):
        s = 2 ** n
        o = tp.dec(g_t, fh, n, crop(outs[s], s))
        y_s = outs[s].clone()
        for i, (y, x0) in enumerate(tiles):  # later tiles overwrite: a pixel comes from the last tile covering it
            y_s[..., y * s:(y + T) * s, x0 * s:(x0 + T) * s] = o[i]
        outs[s] = y_s[..., :H * s, :W * s]
    return outs, ids
