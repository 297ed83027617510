"""Data: HR images -> random 64 px crops (flips/rot90), LR by antialiased bicubic x4 (docs/model.md §4)."""
import glob
import os

import numpy as np
import torch
import torch.nn.functional as F

from .imageio import read_image

DATA = os.environ.get("HITSR_DATA", "/work/shared/data")
TRAIN_SETS = ["train/T91", "train/BSD200"]


def resize_aa(x: torch.Tensor, size: int) -> torch.Tensor:
    """Antialiased bicubic resize (HR -> segment sizes, HR -> LR)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)


def resize_aa_hw(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if x.shape[-2:] == (h, w):
        return x
    return F.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)


def bicubic_up(x: torch.Tensor, size) -> torch.Tensor:
    """Plain bicubic (no antialias), as in the decoder residual and the RQ carry-up."""
    if isinstance(size, int):
        size = (size, size)
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False)


def area_down(x: torch.Tensor, p: int) -> torch.Tensor:
    if x.shape[-1] == p and x.shape[-2] == p:
        return x
    return F.interpolate(x, size=(p, p), mode="area")


def modcrop(img: np.ndarray, m: int) -> np.ndarray:
    h, w = img.shape[:2]
    return img[: h - h % m, : w - w % m]


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> [1,3,H,W] float in [0,1]."""
    return torch.from_numpy(img).permute(2, 0, 1).float().div(255.0)[None]


def load_dir(d: str, cache: str = None):
    files = sorted(glob.glob(os.path.join(d, "*.png")) + glob.glob(os.path.join(d, "*.bmp")) +
                   glob.glob(os.path.join(d, "*.jpg")))
    return [(os.path.basename(f), read_image(f)) for f in files]


def load_train(cache: str = "train/runs/train_images.npz"):
    """All training HR images as a list of HxWx3 uint8 arrays (cached as npz)."""
    if cache and os.path.exists(cache):
        z = np.load(cache)
        return [z[k] for k in sorted(z.files)]
    imgs = []
    for s in TRAIN_SETS:
        imgs += [im for _, im in load_dir(os.path.join(DATA, s))]
    if cache:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        np.savez(cache, **{f"{i:04d}": im for i, im in enumerate(imgs)})
    return imgs


class CropSampler:
    """Random HR crops of `size` px with random flips / rot90. Deterministic given the seed."""

    def __init__(self, imgs, size: int, seed: int = 0):
        self.imgs = [im for im in imgs if im.shape[0] >= size and im.shape[1] >= size]
        self.size = size
        self.rng = np.random.default_rng(seed)
        # sample images proportionally to area
        a = np.array([im.shape[0] * im.shape[1] for im in self.imgs], dtype=np.float64)
        self.p = a / a.sum()

    def get_state(self):
        return self.rng.bit_generator.state

    def set_state(self, s):
        self.rng.bit_generator.state = s

    def batch(self, b: int) -> torch.Tensor:
        out = np.empty((b, self.size, self.size, 3), dtype=np.uint8)
        idx = self.rng.choice(len(self.imgs), size=b, p=self.p)
        for j, i in enumerate(idx):
            im = self.imgs[i]
            y = self.rng.integers(0, im.shape[0] - self.size + 1)
            x = self.rng.integers(0, im.shape[1] - self.size + 1)
            c = im[y:y + self.size, x:x + self.size]
            if self.rng.random() < 0.5:
                c = c[:, ::-1]
            if self.rng.random() < 0.5:
                c = c[::-1]
            c = np.rot90(c, self.rng.integers(0, 4))
            out[j] = c
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div(255.0)


def make_lr(hr: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """LR by antialiased bicubic (hr: [B,3,H,W], H,W divisible by scale)."""
    return resize_aa_hw(hr, hr.shape[-2] // scale, hr.shape[-1] // scale)
