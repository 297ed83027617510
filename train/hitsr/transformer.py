"""Next-scale (VAR-style) block-causal transformer with LR-condition prefix (docs/model.md §5)."""
import math
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import Config
from .data import area_down

_M64 = (1 << 64) - 1


def _mix(z):
    """SplitMix64's finaliser on uint64 numpy arrays (wrapping arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform_hash(seed: int, y, x, k, i) -> torch.Tensor:
    """u in [0, 1) for the token at tile origin (y, x), scale k, position i (docs/model.md §10,
    Sampling); the arguments broadcast (ints or integer arrays). Returns float32."""
    with np.errstate(over="ignore"):
        h = _mix(np.full((), seed & _M64, dtype=np.uint64))
        for v in (y, x, k, i):
            h = _mix((h ^ np.asarray(v, dtype=np.int64).astype(np.uint64)) + np.uint64(0x9E3779B97F4A7C15))
    return torch.from_numpy(np.asarray((h >> np.uint64(40)).astype(np.float64) * 2.0 ** -24, dtype=np.float32))


def sample_topk(logits: torch.Tensor, u: torch.Tensor, k: int, temperature: float) -> torch.Tensor:
    """Inverse-CDF draw over softmax(top-k logits / temperature) per row of logits [..., V] with u
    [...] (docs/model.md §10): the first of the k largest (lower index first on ties) whose running
    float32 sum of exp((l_j - l_0) / T) exceeds u · the total. k = 1 is argmax."""
    v, ii = torch.sort(logits.float(), dim=-1, descending=True, stable=True)
    v, ii = v[..., :k], ii[..., :k]
    w = torch.exp((v - v[..., :1]) / torch.tensor(temperature, dtype=torch.float32))
    cdf = torch.empty_like(w)
    acc = torch.zeros_like(w[..., 0])
    for j in range(k):  # in order, in float32 (torch.cumsum accumulates in double on the CPU)
        acc = acc + w[..., j]
        cdf[..., j] = acc
    first = (cdf <= (u * acc)[..., None]).sum(-1).clamp(max=k - 1)
    return ii.gather(-1, first[..., None]).squeeze(-1)


def block_ids(cfg: Config) -> torch.Tensor:
    return torch.cat([torch.full((s,), i, dtype=torch.long) for i, s in enumerate(cfg.blocks)])


def block_causal_mask(cfg: Config) -> torch.Tensor:
    """[T, T] additive mask: 0 where block(j) <= block(i), -inf elsewhere."""
    b = block_ids(cfg)
    allowed = b[None, :] <= b[:, None]
    m = torch.zeros(len(b), len(b))
    m.masked_fill_(~allowed, float("-inf"))
    return m


class Attn(nn.Module):
    def __init__(self, w, heads):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(w, 3 * w)
        self.proj = nn.Linear(w, w)

    def forward(self, x, mask=None, cache=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=-1)
        d = C // self.h
        q, k, v = (t.view(B, T, self.h, d).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        a = (q @ k.transpose(-1, -2)) / math.sqrt(d)
        if mask is not None:
            a = a + mask
        a = a.softmax(-1)
        y = (a @ v).transpose(1, 2).reshape(B, T, C)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, w, r):
        super().__init__()
        self.fc1 = nn.Linear(w, r * w)
        self.fc2 = nn.Linear(r * w, w)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.width, eps=cfg.eps)
        self.attn = Attn(cfg.width, cfg.heads)
        self.ln2 = nn.LayerNorm(cfg.width, eps=cfg.eps)
        self.mlp = MLP(cfg.width, cfg.mlp)

    def forward(self, x, mask=None, cache=None):
        x = x + self.attn(self.ln1(x), mask, cache)
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.prefix = cfg.cond == "prefix"
        self.cond_proj = nn.Linear((cfg.cond_ch or cfg.z) * (1 if self.prefix else cfg.cell ** 2), w)
        self.pos = nn.Parameter(torch.randn(w, cfg.Gmax, cfg.Gmax) * 0.02)
        self.start = nn.Parameter(torch.randn(w) * 0.02)
        self.lvl = nn.Parameter(torch.randn(cfg.K + self.prefix, w) * 0.02)  # [condition,] each token scale
        self.word_embed = nn.Linear(cfg.z, w)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.ln_f = nn.LayerNorm(w, eps=cfg.eps)
        self.head = nn.Linear(w, cfg.vocab)
        self.apply(self._init)
        for b in self.blocks:  # GPT-2 style scaled residual projections
            nn.init.normal_(b.attn.proj.weight, std=0.02 / math.sqrt(2 * cfg.depth))
            nn.init.normal_(b.mlp.fc2.weight, std=0.02 / math.sqrt(2 * cfg.depth))
        self.register_buffer("mask", block_causal_mask(cfg), persistent=False)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    # ------------------------------------------------------------- embeddings
    def pos_at(self, p):
        """pos table area-downsampled to p x p, row-major -> [p*p, width]."""
        return area_down(self.pos[None], p)[0].flatten(1).t()

    def embed_cond(self, c):
        """prefix: the condition tokens [B, Gmax², width]; embed: the condition grid [B, width, Gmax, Gmax]
        from the tile's features c [B, C, tile, tile], space-to-depth (channel-major, then dy, dx)."""
        if self.prefix:
            x = self.cond_proj(c.flatten(2).transpose(1, 2))
            return x + self.pos_at(self.cfg.Gmax) + self.lvl[0]
        s = self.cfg.cell  # that input order is a conv weight's: one cell×cell convolution at stride cell
        return F.conv2d(c, self.cond_proj.weight.view(-1, c.shape[1], s, s), self.cond_proj.bias, stride=s)

    def prefill(self, c):
        """(condition tokens to run first or None, condition grid each scale adds or None)."""
        e = self.embed_cond(c)
        return (e, None) if self.prefix else (None, e)

    def embed_scale(self, k, x_k, B, cgrid=None):
        """k: 0-based scale index; x_k: [B, z, p, p] (area-downsampled f-hat) for k >= 1; cgrid: the
        condition grid (cond "embed"), area-pooled to p and added."""
        p = self.cfg.scales[k]
        if k == 0:
            e = self.start.view(1, 1, -1).expand(B, p * p, -1)
        else:
            e = self.word_embed(x_k.flatten(2).transpose(1, 2))
        e = e + self.pos_at(p) + self.lvl[k + self.prefix]
        return e if cgrid is None else e + area_down(cgrid, p).flatten(2).transpose(1, 2)

    # ------------------------------------------------------ teacher forcing
    def forward(self, c, xs):
        """c: the condition (prefix: [B, z or cond_ch, Gmax, Gmax]; embed: the tile's features); xs: K-1
        tensors [B, z, p_k, p_k] (k = 1..K-1). Returns logits [B, N, vocab] for the N = sum p^2 predicted
        positions."""
        B, (pre, cgrid) = c.shape[0], self.prefill(c)
        seq = [pre] * self.prefix + [self.embed_scale(k, xs[k - 1] if k else None, B, cgrid) for k in range(self.cfg.K)]
        x = torch.cat(seq, 1)
        for b in self.blocks:
            x = b(x, self.mask)
        x = x[:, self.cfg.T_cond:]
        return self.head(self.ln_f(x))

    # ------------------------------------------------------------- inference
    @torch.no_grad()
    def generate(self, tok, lr, topk: int = 0, seed: Optional[int] = None, return_logits=False, nseg=None,
                 decode=None, cond=None, temperature: float = 1.0, origins=None):
        """One pass with a KV cache: returns (token ids per scale, images per segment[, logits per scale]).
        nseg: stop after this many segments; decode: set of segments to decode (default all; others None).
        cond: the condition (v2: pooled backbone features), else tok.cond_latent(lr).
        topk 0: greedy; else sample_topk with u = uniform_hash(seed, y, x, k, i) for the batch item's
        tile origin (y, x) in origins (default (0, b) for item b)."""
        cfg = self.cfg
        nseg = cfg.nseg if nseg is None else nseg
        B = (lr if cond is None else cond).shape[0]
        if origins is None:
            origins = [(0, b) for b in range(B)]
        oy, ox = (np.array([o[j] for o in origins])[:, None] for j in (0, 1))
        c = tok.cond_latent(lr) if cond is None else cond
        caches = [dict() for _ in self.blocks]
        x, cgrid = self.prefill(c)
        if self.prefix:
            for b, ca in zip(self.blocks, caches):
                x = b(x, None, ca)
        fhat = tok.fhat0(B, c.device)
        idxs, imgs, logits_all = [], [], []
        for k, p in enumerate(cfg.scales):
            if cfg.seg_of[k] >= nseg:
                break
            fhat = tok.carry(fhat, k)
            x = self.embed_scale(k, area_down(fhat, p) if k else None, B, cgrid)
            for b, ca in zip(self.blocks, caches):
                x = b(x, None, ca)
            logits = self.head(self.ln_f(x))
            logits_all.append(logits)
            if topk:
                u = uniform_hash(seed or 0, oy, ox, k, np.arange(p * p)[None])
                idx = sample_topk(logits, u.to(logits.device), min(topk, logits.shape[-1]), temperature)
            else:
                idx = logits.argmax(-1)
            idxs.append(idx)
            fhat = tok.add(fhat, k, idx)
            if tok.last_of_seg(k):
                n = cfg.seg_of[k]
                imgs.append(tok.decode_seg(fhat, c, n, lr) if decode is None or n in decode else None)
        if return_logits:
            return idxs, imgs, logits_all
        return idxs, imgs
