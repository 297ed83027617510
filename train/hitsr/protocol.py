"""The SR literature's degradation (docs/model.md §8): HR mod-cropped to the scale, LR = antialiased
bicubic with the Keys a = −0.5 kernel (MATLAB imresize / PIL BICUBIC), rounded to 8 bits.
The Go side (`resample.BicubicAA` + rounding, `hitsr-video eval`) computes the same."""
import numpy as np
import torch
import torch.nn.functional as F


def resize_float(img: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """[B,3,H,W] float -> [B,3,h,w] float64, unrounded (torch's antialias bicubic is PIL's a = −0.5)."""
    return F.interpolate(img.double(), size=(h, w), mode="bicubic", antialias=True, align_corners=False)


def quantize(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().clamp(0, 255) / 255


def degrade(hr_u8: np.ndarray, s: int):
    """HxWx3 uint8 (mod-cropped to s) -> (LR uint8, LR float32 before rounding)."""
    t = torch.from_numpy(hr_u8).permute(2, 0, 1)[None].double() / 255
    f = resize_float(t, hr_u8.shape[0] // s, hr_u8.shape[1] // s)
    q = (quantize(f)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return q, f[0].permute(1, 2, 0).numpy().astype(np.float32)


def bicubic_baseline(lr: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The literature's 'bicubic' row: imresize up with a = −0.5 (torch antialias mode, PIL weights)."""
    return resize_float(lr, h, w).float()
