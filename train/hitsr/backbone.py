"""Fidelity backbone (docs/model.md §8): a conv trunk at LR resolution, one depth-to-space head per
output scale (×1 restored, ×2, ×4), each added to the plain bicubic upsampling of the input.

Training form: every 3×3 conv of the trunk and heads has a parallel 1×1 branch (RepVGG-style);
`fold()` merges it into the 3×3 kernel, so the exported graph is plain convs, ReLU, pixel shuffle
and add.
"""
from dataclasses import asdict, dataclass, field
import json
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class BackboneConfig:
    ch: int = 48
    blocks: int = 8
    k_in: int = 5
    scales: List[int] = field(default_factory=lambda: [1, 2, 4])

    def to_json(self):
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(s):
        return BackboneConfig(**json.loads(s))

    def receptive_radius(self) -> int:
        """LR pixels of context on each side that an output pixel depends on (the tiling halo)."""
        return self.k_in // 2 + self.blocks + 1

    def macs_per_lr_pixel(self) -> int:
        c = self.ch
        m = 3 * c * self.k_in ** 2 + self.blocks * 9 * c * c
        return m + sum(9 * c * 3 * s * s for s in self.scales)


class RepConv(nn.Module):
    """3×3 conv + 1×1 conv in training; one 3×3 conv after fold()."""

    def __init__(self, cin, cout, zero=False):
        super().__init__()
        self.k3 = nn.Conv2d(cin, cout, 3, padding=1)
        self.k1 = nn.Conv2d(cin, cout, 1, bias=False)
        if zero:
            for p in (self.k3.weight, self.k3.bias, self.k1.weight):
                nn.init.zeros_(p)

    def forward(self, x):
        if self.k1 is None:
            return self.k3(x)
        return self.k3(x) + self.k1(x)

    @torch.no_grad()
    def fold(self):
        if self.k1 is not None:
            self.k3.weight[:, :, 1:2, 1:2] += self.k1.weight
            self.k1 = None


def bicubic_up(x, s):
    """Plain bicubic (torch: a = −0.75, border clamp), as the Go Upsample op."""
    if s == 1:
        return x
    return F.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False)


class Backbone(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.ch
        self.conv_in = nn.Conv2d(3, c, cfg.k_in, padding=cfg.k_in // 2)
        self.blocks = nn.ModuleList([RepConv(c, c) for _ in range(cfg.blocks)])
        self.heads = nn.ModuleDict({str(s): RepConv(c, 3 * s * s, zero=True) for s in cfg.scales})

    def features(self, x):
        """Trunk features [B, ch, H, W] after the final ReLU (the token path's condition)."""
        t = self.conv_in(x * 2 - 1)
        for b in self.blocks:
            t = t + b(F.relu(t))
        return F.relu(t)

    def head(self, t, x, s):
        y = self.heads[str(s)](t)
        if s > 1:
            y = F.pixel_shuffle(y, s)
        return bicubic_up(x, s) + y

    def forward(self, x, scales=None):
        t = self.features(x)
        return {s: self.head(t, x, s) for s in (scales or self.cfg.scales)}

    def fold(self):
        for m in self.modules():
            if isinstance(m, RepConv):
                m.fold()
        return self

    def export_state(self):
        """Folded weights under the names of docs/model.md §8."""
        import copy
        m = copy.deepcopy(self).fold()
        out = {"bb.conv_in.weight": m.conv_in.weight, "bb.conv_in.bias": m.conv_in.bias}
        for i, b in enumerate(m.blocks):
            out[f"bb.block.{i}.weight"], out[f"bb.block.{i}.bias"] = b.k3.weight, b.k3.bias
        for s in self.cfg.scales:
            h = m.heads[str(s)].k3
            out[f"bb.head.{s}.weight"], out[f"bb.head.{s}.bias"] = h.weight, h.bias
        return {k: v.detach().float().contiguous() for k, v in out.items()}


def load_backbone(path):
    """EMA backbone (training form) from a run directory (its snapshot.pt) or a snapshot file."""
    import os
    if os.path.isdir(path):
        path = os.path.join(path, "snapshot.pt")
    s = torch.load(path, weights_only=False)
    net = Backbone(BackboneConfig.from_json(s["cfg"]))
    net.load_state_dict(s["ema"])
    net.eval()
    return net, s["step"]
