"""Model v2 token path (docs/model.md §10): HIT tokens that predict a residual over the fidelity
backbone's outputs, conditioned on the backbone's trunk features.

Inference graph (what Go runs): cond = area_down(features of the tile, Gmax) → transformer →
token ids per scale → f̂ per segment (quant.*, as v1) → per segment n (scale s = 2^n):
  g = dec.feat(features)                       3×3 conv over the whole frame (C → D), once
  h = relu(g + dec.tok.n(bicubic_up(f̂_n, tile)))   1×1 conv z → D
  h = relu(dec.mix.n(h))                       1×1 conv D → D
  out_n = backbone_n + pixel_shuffle(dec.out.n(h), s)   1×1 conv D → 3s²
The residual encoder (enc.*) tokenizes (HR_n, backbone_n) in training only.
"""
import math
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import Config
from .data import area_down, bicubic_up
from .tokenizer import Quant, ResidualQuantization


class ResidualEncoder(nn.Module):
    """(HR_n, backbone_n) images [B,6,S,S] → latents [B,z,S/f,S/f] (training only): pixel_unshuffle(4),
    a 3×3 conv to enc_ch[-1], a stride-2 3×3 conv per remaining factor of 2, a residual 3×3, 1×1 → z."""

    def __init__(self, cfg: Config):
        super().__init__()
        c = cfg.enc_ch[-1]
        self.conv_in = nn.Conv2d(6 * 16, c, 3, padding=1)
        self.down = nn.ModuleList([nn.Conv2d(c, c, 3, stride=2, padding=1)
                                   for _ in range(int(math.log2(cfg.f)) - 2)])
        self.mid = nn.Conv2d(c, c, 3, padding=1)
        self.conv_out = nn.Conv2d(c, cfg.z, 1)

    def forward(self, hr, bb):
        # the residual carries the information; ×8 brings its scale near the images'
        x = torch.cat([hr * 2 - 1, (hr - bb) * 8], 1)
        h = self.conv_in(F.pixel_unshuffle(x, 4))
        for d in self.down:
            h = d(F.silu(h))
        h = h + self.mid(F.silu(h))
        return self.conv_out(F.silu(h))


class ResidualDecoder(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        D = cfg.dec_ch
        self.tile = cfg.tile
        self.feat = nn.Conv2d(cfg.cond_ch, D, 3)  # on features padded by 1 (zeros outside the frame)
        self.tok = nn.ModuleList([nn.Conv2d(cfg.z, D, 1) for _ in range(cfg.nseg)])
        self.mix = nn.ModuleList([nn.Conv2d(D, D, 1) for _ in range(cfg.nseg)])
        self.out = nn.ModuleList([nn.Conv2d(D, 3 * 4 ** n, 1) for n in range(cfg.nseg)])
        for o in self.out:
            nn.init.zeros_(o.weight)
            nn.init.zeros_(o.bias)

    def forward(self, g, fhat, n, bb):
        """g = self.feat(padded features) [B,D,tile,tile]; fhat [B,z,G,G]; bb the backbone's output at 2^n."""
        h = F.relu(g + self.tok[n](bicubic_up(fhat, self.tile)))
        h = F.relu(self.mix[n](h))
        r = self.out[n](h)
        return bb + (F.pixel_shuffle(r, 2 ** n) if n else r)


class TokPath(ResidualQuantization):
    """Quantizer + decoder (+ the training-only encoder); export names quant.*, dec.* (enc.* not exported)."""

    def __init__(self, cfg: Config):
        super().__init__()
        assert cfg.fidelity == "backbone"
        self.cfg = cfg
        self.enc = ResidualEncoder(cfg)
        self.dec = ResidualDecoder(cfg)
        self.quant = Quant(cfg)
        with torch.no_grad():
            self.quant.embedding.normal_(0, 0.5)

    def latents(self, hrs: List[torch.Tensor], bbs: List[torch.Tensor]):
        """Per-segment latents (hit) or [E at the last segment] (plain)."""
        if self.cfg.rq == "plain":
            return [self.enc(hrs[-1], bbs[-1])]
        return [self.enc(h, b) for h, b in zip(hrs, bbs)]

    def quantize(self, Zs, want_loss=False, residuals=None, commit=0.25):
        """Residual quantization: (ids per scale, f̂ per segment (straight-through), vq loss); residuals:
        a list that collects each scale's residual vectors [N, z]."""
        cfg = self.cfg
        fhat = self.fhat0(Zs[0].shape[0], Zs[0].device)
        ids, fhats, loss = [], [], Zs[0].new_zeros(())
        for k, p in enumerate(cfg.scales):
            if cfg.rq == "hit" and cfg.seg_of[k] >= len(Zs):
                break  # latents of the first segments only: their walk (the early exit's tokens)
            Z = Zs[0] if cfg.rq == "plain" else Zs[cfg.seg_of[k]]
            fhat = self.carry(fhat, k)
            r = area_down(Z.detach() - fhat.detach(), p)
            idx = self.quant.nearest(r)
            ids.append(idx)
            if residuals is not None:
                residuals.append(r.permute(0, 2, 3, 1).reshape(-1, r.shape[1]))
            fhat = self.add(fhat, k, idx)
            if want_loss:
                loss = loss + commit * F.mse_loss(fhat.detach(), Z) + F.mse_loss(fhat, Z.detach())
            if self.last_of_seg(k):
                fhats.append(Z + (fhat - Z).detach() if want_loss else fhat)
        return ids, fhats, loss / cfg.K

    def decode(self, featpad, fhats, bbs):
        """Images per segment from f̂ per segment; featpad [B,C,tile+2,tile+2]."""
        g = self.dec.feat(featpad)
        return [self.dec(g, f, n, bbs[n]) for n, f in enumerate(fhats)]


def cond_of(cfg: Config, feat):
    """The transformer's condition from a tile's features [B, C, tile, tile]: area-pooled to Gmax for
    cond "prefix"; "embed" takes them whole (the transformer's space-to-depth)."""
    return area_down(feat, cfg.Gmax) if cfg.cond == "prefix" else feat


def export_state(tp: TokPath, tr) -> dict:
    sd = {k: v for k, v in tp.state_dict().items() if not k.startswith("enc.")}
    sd.update(tr.state_dict())
    return {k: v.detach().float().contiguous() for k, v in sd.items()}
