"""Packed training set of the fidelity backbone (docs/training.md, "GPU device check").

A pack is a random selection of equal-size aligned tiles cut from the backbone's training pairs
(train_backbone.build_pairs: T91 + BSD200 at 1, 0.8, 0.6 of their size, literature-protocol LR of
hitsr/protocol.py): per tile the HR (T×T), LR×2 (T/2), LR×4 (T/4) as uint8 and LR×4 before 8-bit
rounding (the ×1 target) as float32, all stored losslessly so that a tile is bit-identical to the
same window of the pairs the CPU training samples from:

  uint8: RGB → (G, R−G, B−G) mod 256, planar, 2-D first differences mod 256, LZMA;
  float32: bits XOR the bits of float32(LR×4 / 255), byte planes, LZMA.

One .npz (uncompressed container) holds `meta` (JSON) and the four LZMA blobs. No PIL, no
safetensors: numpy + lzma only, so it loads the same with Debian's numpy 1.24 and numpy 2.x.
PackSampler draws batches like train_backbone.PairSampler (uniform tile = area-proportional image
choice, uniform crop position, uniform flip/transpose of the 8 dihedral transforms), with the
gather on the training device.
"""
import json
import lzma

import numpy as np
import torch

FORMAT = "hitsr-backbone-pack/1"


def _xz(b: bytes) -> bytes:
    # preset 9's 64 MiB dictionary only pays for inputs that large; the decoder reads either
    return lzma.compress(b, preset=9 if len(b) > 16 << 20 else 6)


def enc_u8(a: np.ndarray) -> bytes:
    """[N, H, W, 3] uint8 -> bytes."""
    x = a.astype(np.int16)
    g = x[..., 1]
    p = np.stack([g, x[..., 0] - g, x[..., 2] - g], 1)  # [N, 3, H, W]
    d = np.diff(np.diff(p, axis=3, prepend=0), axis=2, prepend=0)
    return _xz((d & 255).astype(np.uint8).tobytes())


def dec_u8(b: bytes, shape) -> np.ndarray:
    """Inverse of enc_u8: bytes -> [N, H, W, 3] uint8 (shape = (N, H, W, 3))."""
    n, h, w, _ = shape
    d = np.frombuffer(lzma.decompress(b), dtype=np.uint8).reshape(n, 3, h, w)
    p = np.cumsum(np.cumsum(d, axis=2, dtype=np.uint8), axis=3, dtype=np.uint8)
    g = p[:, 0]
    return np.stack([p[:, 1] + g, g, p[:, 2] + g], -1)  # uint8 arithmetic wraps mod 256


def _ref_bits(ref_u8: np.ndarray) -> np.ndarray:
    return (ref_u8.astype(np.float32) / np.float32(255)).view(np.uint32)


def enc_f32(f: np.ndarray, ref_u8: np.ndarray) -> bytes:
    """float32 array close to ref_u8 / 255 -> bytes (exact)."""
    x = np.ascontiguousarray(f, dtype=np.float32).view(np.uint32) ^ _ref_bits(ref_u8)
    planes = x.reshape(-1).view(np.uint8).reshape(-1, 4).T
    return _xz(np.ascontiguousarray(planes).tobytes())


def dec_f32(b: bytes, ref_u8: np.ndarray) -> np.ndarray:
    planes = np.frombuffer(lzma.decompress(b), dtype=np.uint8).reshape(4, -1)
    x = np.ascontiguousarray(planes.T).view(np.uint32).reshape(ref_u8.shape)
    return (x ^ _ref_bits(ref_u8)).view(np.float32)


def tile_grid(h: int, w: int, t: int):
    """Top-left corners (multiples of 4) of the non-overlapping t×t tiles centred in an h×w image."""
    ny, nx = h // t, w // t
    y0, x0 = (h - ny * t) // 2 // 4 * 4, (w - nx * t) // 2 // 4 * 4
    return [(y0 + i * t, x0 + j * t) for i in range(ny) for j in range(nx)]


def cut(pairs, where, t: int):
    """Tiles at where = [(pair, y, x)] (HR coordinates, multiples of 4) -> dict of stacked arrays."""
    hr = np.stack([pairs[i]["hr"][y:y + t, x:x + t] for i, y, x in where])
    lr2 = np.stack([pairs[i]["lr2"][y // 2:(y + t) // 2, x // 2:(x + t) // 2] for i, y, x in where])
    q = lambda k: np.stack([pairs[i][k][y // 4:(y + t) // 4, x // 4:(x + t) // 4] for i, y, x in where])
    return dict(hr=hr, lr2=lr2, lr4=q("lr4"), lr4f=q("lr4f").astype(np.float32))


def encode(tiles) -> dict:
    return dict(hr=enc_u8(tiles["hr"]), lr2=enc_u8(tiles["lr2"]), lr4=enc_u8(tiles["lr4"]),
                lr4f=enc_f32(tiles["lr4f"], tiles["lr4"]))


def save(path: str, blobs: dict, meta: dict) -> None:
    meta = dict(meta, format=FORMAT)
    arrs = {k: np.frombuffer(v, dtype=np.uint8) for k, v in blobs.items()}
    arrs["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrs)
    import os
    os.replace(tmp, path)


def load(path: str):
    """-> (dict of arrays hr [N,T,T,3] u8, lr2, lr4 u8, lr4f f32; meta)."""
    z = np.load(path)
    meta = json.loads(z["meta"].tobytes().decode())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: format {meta.get('format')!r}, want {FORMAT!r}")
    n, t = meta["tiles"], meta["tile"]
    tiles = dict(hr=dec_u8(z["hr"].tobytes(), (n, t, t, 3)), lr2=dec_u8(z["lr2"].tobytes(), (n, t // 2, t // 2, 3)),
                 lr4=dec_u8(z["lr4"].tobytes(), (n, t // 4, t // 4, 3)))
    tiles["lr4f"] = dec_f32(z["lr4f"].tobytes(), tiles["lr4"])
    return tiles, meta


class PackSampler:
    """Aligned random (LR, HR) crops of scale s from a pack's tiles, on `device`.

    Same interface and random-state type as train_backbone.PairSampler (`rng` is a numpy Generator,
    so checkpoints store its state the same way); batch() returns float tensors on the device.
    Tiles [skip_last:] are held out (validation)."""

    def __init__(self, tiles, seed, device="cpu", hold_out=0):
        n = len(tiles["hr"]) - hold_out
        assert n > 0, "no training tiles left"
        self.rng = np.random.default_rng(seed)
        self.dev = torch.device(device)
        u8 = lambda k: torch.from_numpy(np.ascontiguousarray(tiles[k][:n])).permute(0, 3, 1, 2).contiguous().to(self.dev)
        self.t = {"hr": u8("hr"), "lr2": u8("lr2"), "lr4": u8("lr4"),
                  "lr4f": torch.from_numpy(np.ascontiguousarray(tiles["lr4f"][:n])).permute(0, 3, 1, 2).contiguous().to(self.dev)}
        self.n = n

    @staticmethod
    def _gather(src, i, y, x, p):
        """src [N,3,H,W]; i, y, x: [b] long; -> [b,3,p,p] crops."""
        ar = torch.arange(p, device=src.device)
        ys = (y[:, None] + ar)[:, None, :, None]
        xs = (x[:, None] + ar)[:, None, None, :]
        c = torch.arange(src.shape[1], device=src.device)[None, :, None, None]
        return src[i[:, None, None, None], c, ys, xs]

    def batch(self, b, s, lr_px):
        lr_t = self.t[f"lr{s}"]
        h, w = lr_t.shape[2], lr_t.shape[3]
        assert h >= lr_px and w >= lr_px, f"crop {lr_px} > tile {h}×{w}"
        r = self.rng
        draw = np.stack([r.integers(0, self.n, b), r.integers(0, h - lr_px + 1, b), r.integers(0, w - lr_px + 1, b),
                         r.integers(0, 2, b), r.integers(0, 2, b), r.integers(0, 2, b)])
        d = torch.from_numpy(draw)
        # pinned + non_blocking: a pageable copy would wait for the GPU's queue every batch
        d = d.pin_memory().to(self.dev, non_blocking=True) if self.dev.type == "cuda" else d.to(self.dev)
        i, y, x = d[0], d[1], d[2]
        crops = [self._gather(lr_t, i, y, x, lr_px).float().div_(255),
                 self._gather(self.t["hr"], i, y * s, x * s, lr_px * s).float().div_(255)]
        if s == 4:
            crops.append(self._gather(self.t["lr4f"], i, y, x, lr_px))
        fh, fv, tr = (d[3] == 1)[:, None, None, None], (d[4] == 1)[:, None, None, None], (d[5] == 1)[:, None, None, None]
        out = []
        for c in crops:
            c = torch.where(fh, c.flip(3), c)
            c = torch.where(fv, c.flip(2), c)
            c = torch.where(tr, c.transpose(2, 3), c)
            out.append(c.contiguous())
        return out[0], out[1], (out[2] if s == 4 else None)
