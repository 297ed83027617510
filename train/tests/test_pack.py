"""The packed backbone training set (hitsr/pack.py): lossless round trip, tile alignment, sampler."""
import os
import tempfile
import unittest

import _path  # noqa: F401
import numpy as np
import torch

from hitsr import pack
from hitsr.protocol import degrade

torch.set_num_threads(1)


def pairs(seed=0, n=2):
    """Protocol pairs (as train_backbone.build_pairs makes them) of random-texture images."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = 136 + 8 * i, 264
        base = rng.integers(0, 256, (h // 8, w // 8, 3)).astype(np.float64)
        img = np.kron(base, np.ones((8, 8, 1))) + rng.normal(0, 20, (h, w, 3))
        hr = np.clip(img, 0, 255).round().astype(np.uint8)
        lr2, _ = degrade(hr, 2)
        lr4, lr4f = degrade(hr, 4)
        out.append(dict(hr=hr, lr2=lr2, lr4=lr4, lr4f=lr4f))
    return out


class TestPack(unittest.TestCase):
    def test_codecs_exact(self):
        rng = np.random.default_rng(1)
        a = rng.integers(0, 256, (3, 16, 12, 3)).astype(np.uint8)
        a[0] = 0
        a[1] = 255
        self.assertTrue(np.array_equal(pack.dec_u8(pack.enc_u8(a), a.shape), a))
        ref = rng.integers(0, 256, (3, 8, 8, 3)).astype(np.uint8)
        f = (ref.astype(np.float32) + rng.uniform(-0.5, 0.5, ref.shape).astype(np.float32)) / 255
        f[0, 0, 0] = [-0.03, 1.04, np.float32(1e-9)]  # bicubic overshoot and tiny values
        g = pack.dec_f32(pack.enc_f32(f, ref), ref)
        self.assertTrue(np.array_equal(g.view(np.uint32), f.view(np.uint32)))

    def test_save_load_tiles_aligned(self):
        ps = pairs()
        t = 64
        where = [(i, y, x) for i, p in enumerate(ps) for y, x in pack.tile_grid(*p["hr"].shape[:2], t)]
        self.assertEqual(len(where), 16)  # 2 × 4 tiles per image
        self.assertTrue(all(y % 4 == 0 and x % 4 == 0 for _, y, x in where))
        tiles = pack.cut(ps, where, t)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.npz")
            pack.save(path, pack.encode(tiles), dict(tiles=len(where), tile=t))
            got, meta = pack.load(path)
        self.assertEqual(meta["format"], pack.FORMAT)
        for k in tiles:
            self.assertEqual(got[k].dtype, tiles[k].dtype)
            self.assertTrue(np.array_equal(got[k], tiles[k]), k)
        # a tile is the same window of the whole image's protocol pair (not a re-degraded crop)
        i, y, x = where[3]
        self.assertTrue(np.array_equal(got["lr4"][3], ps[i]["lr4"][y // 4:y // 4 + t // 4, x // 4:x // 4 + t // 4]))
        self.assertTrue(np.array_equal(got["lr4f"][3], ps[i]["lr4f"][y // 4:y // 4 + t // 4, x // 4:x // 4 + t // 4]))
        self.assertTrue(np.array_equal(got["lr2"][3], ps[i]["lr2"][y // 2:y // 2 + t // 2, x // 2:x // 2 + t // 2]))

    def test_sampler_keeps_lr_hr_aligned(self):
        # HR = nearest ×4 upsampling of LR×4 and of LR×2 ×2: every crop pair keeps that relation
        # through the flips / transposes; lr4f follows lr4.
        rng = np.random.default_rng(2)
        n, t = 3, 32
        lr4 = rng.integers(0, 256, (n, t // 4, t // 4, 3)).astype(np.uint8)
        hr = lr4.repeat(4, 1).repeat(4, 2)
        tiles = dict(hr=hr, lr2=hr[:, ::2, ::2], lr4=lr4, lr4f=lr4.astype(np.float32) / 255 + 1e-3)
        s = pack.PackSampler(tiles, seed=0, hold_out=1)
        self.assertEqual(s.n, 2)
        for sc, px in ((2, 8), (4, 5)):
            lr, hrc, lrf = s.batch(16, sc, px)
            self.assertEqual(tuple(lr.shape), (16, 3, px, px))
            self.assertEqual(tuple(hrc.shape), (16, 3, px * sc, px * sc))
            self.assertTrue(torch.equal(hrc, lr.repeat_interleave(sc, 2).repeat_interleave(sc, 3)))
            if sc == 4:
                self.assertTrue(torch.allclose(lrf, lr + 1e-3, atol=1e-6))
            else:
                self.assertIsNone(lrf)
        # held-out tile 2 never sampled: its values are distinct
        tiles["lr4"][2] = 7
        s = pack.PackSampler(tiles, seed=0, hold_out=1)
        state = s.rng.bit_generator.state
        a = s.batch(64, 4, 8)[0]
        self.assertFalse(bool((a.flatten(1) == 7 / 255).all(1).any()))
        s.rng.bit_generator.state = state  # deterministic given its state (checkpoints)
        self.assertTrue(torch.equal(s.batch(64, 4, 8)[0], a))


class TestDeviceForward(unittest.TestCase):
    def test_equals_forward(self):
        from hitsr.backbone import Backbone, BackboneConfig
        from train_backbone import device_forward
        torch.manual_seed(0)
        net = Backbone(BackboneConfig(ch=8, blocks=2))
        for h in net.heads.values():  # non-zero heads, so the skip and the shuffle are exercised
            torch.nn.init.normal_(h.k3.weight, std=0.1)
        x = torch.rand(2, 3, 12, 10)
        want = net(x)
        got = device_forward(net, x, [1, 2, 4], None)
        for s in (1, 2, 4):
            self.assertTrue(torch.equal(got[s], want[s]), s)
        bf = device_forward(net, x, [4], torch.bfloat16)[4]  # autocast convs, fp32 skip
        self.assertEqual(bf.dtype, torch.float32)
        self.assertLess(float((bf - want[4]).abs().max()), 0.05)


if __name__ == "__main__":
    unittest.main()
