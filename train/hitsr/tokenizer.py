"""Conv VQ autoencoder + HIT nested residual quantization (docs/model.md §3-§4).

Module / parameter names are the export names (enc.*, dec.*, quant.*)."""
import math
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import Config
from .data import area_down, bicubic_up, resize_aa


def conv3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=True)


class Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = conv3(c, c)
        self.conv2 = conv3(c, c)

    def forward(self, x):
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Level(nn.Module):
    def __init__(self, cin, cout, nres, stride):
        super().__init__()
        self.res = nn.ModuleList([Res(cin) for _ in range(nres)])
        self.conv = conv3(cin, cout, stride)


class Encoder(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        ch, L = cfg.enc_ch, len(cfg.enc_ch)
        self.conv_in = conv3(3, ch[0])
        self.down = nn.ModuleList([Level(ch[l], ch[min(l + 1, L - 1)], cfg.res_blocks, 2) for l in range(L)])
        self.mid = Res(ch[-1])
        self.conv_out = conv3(ch[-1], cfg.z)

    def forward(self, x):
        h = self.conv_in(x * 2 - 1)
        for lv in self.down:
            for r in lv.res:
                h = r(h)
            h = lv.conv(h)
        h = self.mid(h)
        return self.conv_out(F.silu(h))


class Decoder(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        ch, L = cfg.enc_ch, len(cfg.enc_ch)
        self.cond = cfg.fidelity == "cond"
        self.conv_in = conv3(cfg.z * (2 if self.cond else 1), ch[-1])
        self.seg_emb = nn.Parameter(torch.zeros(cfg.nseg, ch[-1]))
        self.mid = Res(ch[-1])
        self.up = nn.ModuleList([Level(ch[l], ch[max(l - 1, 0)], cfg.res_blocks, 1) for l in range(L)])
        self.conv_out = conv3(ch[0], 3)
        if self.cond:  # start at (or near) bicubic; see train_tokenizer.py --out-init
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)

    def init_out(self, scale: float):
        """Re-initialise the output conv as default-init x scale (scale 0 = exactly bicubic at start)."""
        nn.init.kaiming_normal_(self.conv_out.weight, nonlinearity="linear")
        with torch.no_grad():
            self.conv_out.weight.mul_(scale)
            self.conv_out.bias.zero_()

    def forward(self, fhat, c, n: int, lr: Optional[torch.Tensor] = None):
        x = torch.cat([fhat, c], 1) if self.cond else fhat
        h = self.conv_in(x) + self.seg_emb[n].view(1, -1, 1, 1)
        h = self.mid(h)
        for l in reversed(range(len(self.up))):
            lv = self.up[l]
            for r in lv.res:
                h = r(h)
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = lv.conv(h)
        y = self.conv_out(F.silu(h))
        if self.cond:
            return y + bicubic_up(lr, y.shape[-1])
        return (y + 1) / 2


class Quant(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(cfg.vocab, cfg.z).uniform_(-1.0 / cfg.vocab, 1.0 / cfg.vocab))
        self.phi = nn.ModuleList([nn.Conv2d(cfg.z, cfg.z, cfg.phi_k, padding=cfg.phi_k // 2) for _ in range(cfg.K)])

    def nearest(self, r):
        """r: [B, z, p, p] -> idx [B, p*p] (row-major), squared-L2 nearest code, first minimum."""
        B, C, p, _ = r.shape
        v = r.permute(0, 2, 3, 1).reshape(-1, C)
        e = self.embedding
        d = (v * v).sum(1, keepdim=True) - 2 * v @ e.t() + (e * e).sum(1)[None]
        return d.argmin(1).view(B, p * p)

    def lookup(self, idx, p):
        B = idx.shape[0]
        return self.embedding[idx].view(B, p, p, -1).permute(0, 3, 1, 2)

    def phi_k(self, k, h):
        return 0.5 * h + 0.5 * self.phi[k](h)


class ResidualQuantization(nn.Module):
    """The residual-quantization walk shared by the v1 tokenizer and the v2 token path (§4): the grid of
    each scale, carry-up at segment starts, adding a scale's codes, replaying ids. Needs self.cfg and
    self.quant."""

    def grid(self, k):
        cfg = self.cfg
        return cfg.Gmax if cfg.rq == "plain" else cfg.G(cfg.seg_of[k])

    def fhat0(self, B, device=None):
        cfg = self.cfg
        G = cfg.Gmax if cfg.rq == "plain" else cfg.G(0)
        return torch.zeros(B, cfg.z, G, G, device=device)

    def carry(self, fhat, k):
        """Bring f-hat onto the grid of scale k (bicubic carry-up at a segment start)."""
        G = self.grid(k)
        return fhat if fhat.shape[-1] == G else bicubic_up(fhat, G)

    def add(self, fhat, k, idx):
        """f-hat + phi_k(up(e[idx_k])); fhat must already be on grid(k)."""
        return self.add_codes(fhat, k, self.quant.lookup(idx, self.cfg.scales[k]))

    def add_codes(self, fhat, k, h):
        """f-hat + phi_k(up(h)) for scale k's code vectors h [B, z, p, p]."""
        return fhat + self.quant.phi_k(k, bicubic_up(h, fhat.shape[-1]))

    def last_of_seg(self, k):
        cfg = self.cfg
        return k == cfg.K - 1 or cfg.seg_of[k + 1] != cfg.seg_of[k]

    def replay_mean(self, logits):
        """f-hat per segment from each scale's expected code under softmax(logits) (the posterior mean;
        logits [B, N, vocab] over the scales' positions in order)."""
        cfg = self.cfg
        fhat, fhats, at = self.fhat0(logits.shape[0], logits.device), [], 0
        for k, p in enumerate(cfg.scales[:self.scales_in(logits.shape[1])]):
            fhat = self.carry(fhat, k)
            e = logits[:, at:at + p * p].softmax(-1) @ self.quant.embedding
            fhat = self.add_codes(fhat, k, e.view(-1, p, p, cfg.z).permute(0, 3, 1, 2))
            at += p * p
            if self.last_of_seg(k):
                fhats.append(fhat)
        return fhats

    def scales_in(self, n):
        """How many scales n positions cover."""
        k, at = 0, 0
        while k < self.cfg.K and at < n:
            at += self.cfg.scales[k] ** 2
            k += 1
        return k

    def replay(self, idxs):
        """From token ids: (transformer inputs x_k for k >= 1, fhat per completed segment)."""
        cfg = self.cfg
        B = idxs[0].shape[0]
        fhat = self.fhat0(B, idxs[0].device)
        xs, fhats = [], []
        for k, idx in enumerate(idxs):
            fhat = self.carry(fhat, k)
            if k > 0:
                xs.append(area_down(fhat, cfg.scales[k]))
            fhat = self.add(fhat, k, idx)
            if self.last_of_seg(k):
                fhats.append(fhat)
        return xs, fhats


class Tokenizer(ResidualQuantization):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.enc = Encoder(cfg)
        self.dec = Decoder(cfg)
        self.quant = Quant(cfg)
        self._init()

    def _init(self):
        """Variance-preserving init (PyTorch's default conv init shrinks activations ~sqrt(3)x per conv, which
        left the decoder output ~1e-4 and untrainable in a CPU budget). Residual branches start small."""
        for mod in list(self.enc.modules()) + list(self.dec.modules()):
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
                nn.init.zeros_(mod.bias)
        for mod in list(self.enc.modules()) + list(self.dec.modules()):
            if isinstance(mod, Res):
                mod.conv2.weight.data.mul_(0.3)
        nn.init.kaiming_normal_(self.enc.conv_out.weight, nonlinearity="linear")
        if self.cfg.fidelity == "cond":
            nn.init.zeros_(self.dec.conv_out.weight)
        with torch.no_grad():
            self.quant.embedding.normal_(0, 0.5)

    # ---------------------------------------------------------------- helpers
    def seg_images(self, hr):
        """Segment n's input image: HR resized (antialiased bicubic) to tile*2^n. hr: [B,3,S,S]."""
        cfg = self.cfg
        return [resize_aa(hr, cfg.tile * 2 ** n) for n in range(cfg.nseg)]

    def cond_latent(self, lr):
        """c = E(bicubic_up(LR, tile*4)) [B, z, G_2, G_2]."""
        cfg = self.cfg
        return self.enc(bicubic_up(lr, cfg.tile * 2 ** (cfg.nseg - 1)))

    def cond_n(self, c, n):
        return area_down(c, self.cfg.G(n))

    def decode_seg(self, fhat, c, n, lr):
        cfg = self.cfg
        if cfg.rq == "plain":
            y = self.dec(fhat, c, cfg.nseg - 1, lr)
            return area_down(y, cfg.tile * 2 ** n)
        return self.dec(fhat, self.cond_n(c, n), n, lr)

    # ----------------------------------------------------------- tokenization
    def latents(self, seg_imgs):
        """Per-segment encoder latents Z_n (hit) or [Z] = E(HR) at G_2 (plain)."""
        if self.cfg.rq == "plain":
            return [self.enc(seg_imgs[-1])]
        return [self.enc(x) for x in seg_imgs]

    def quantize(self, Zs, nseg=None, want_loss=False):
        """HIT residual quantization. Returns (idx per scale, fhat per segment, vq_loss, residuals)."""
        cfg = self.cfg
        nseg = cfg.nseg if nseg is None else nseg
        B = Zs[0].shape[0]
        fhat = self.fhat0(B, Zs[0].device)
        idxs, fhats, res = [], [], []
        loss = Zs[0].new_zeros(())
        nl = 0
        for k, p in enumerate(cfg.scales):
            n = cfg.seg_of[k]
            if n >= nseg:
                break
            Z = Zs[0] if cfg.rq == "plain" else Zs[n]
            fhat = self.carry(fhat, k)
            r = area_down(Z.detach() - fhat.detach(), p)
            idx = self.quant.nearest(r)
            idxs.append(idx)
            res.append(r)
            fhat = self.add(fhat, k, idx)
            if want_loss:
                loss = loss + 0.25 * F.mse_loss(fhat.detach(), Z) + F.mse_loss(fhat, Z.detach())
                nl += 1
            if self.last_of_seg(k):
                fhats.append(fhat)
        return idxs, fhats, (loss / max(nl, 1)), res

    @torch.no_grad()
    def encode(self, hr):
        """HR tiles [B,3,S,S] (S = tile*4) -> token ids per scale."""
        return self.quantize(self.latents(self.seg_images(hr)))[0]

    def decode(self, idxs, lr, c=None):
        """Token ids (any complete-segment prefix) -> images per segment."""
        c = self.cond_latent(lr) if c is None else c
        _, fhats = self.replay(idxs)
        return [self.decode_seg(f, c, n, lr) for n, f in enumerate(fhats)]

    # --------------------------------------------------------------- training
    def forward_train(self, hr, lr, bypass):
        """hr [B,3,S,S], lr [B,3,tile,tile], bypass [B] bool. Returns images per segment, vq loss, idxs, residuals."""
        seg_imgs = self.seg_images(hr)
        Zs = self.latents(seg_imgs)
        idxs, fhats, vq, res = self.quantize(Zs, want_loss=True)
        c = self.cond_latent(lr)
        m = bypass.float().view(-1, 1, 1, 1)
        outs = []
        for n, fh in enumerate(fhats):
            Z = Zs[0] if self.cfg.rq == "plain" else Zs[n]
            st = Z + (fh - Z).detach()  # straight-through
            if self.cfg.rq == "plain":
                # plain RQ: the continuous path is Z itself (no segment structure)
                st = Z + (fh - Z).detach()
            x = m * Z + (1 - m) * st
            outs.append(self.decode_seg(x, c, n, lr))
        return outs, vq, idxs, res, seg_imgs
