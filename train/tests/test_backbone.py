import copy
import unittest

import _path  # noqa: F401
import numpy as np
import torch

from hitsr.backbone import Backbone, BackboneConfig
from hitsr.protocol import degrade

torch.set_num_threads(1)


def net(seed=0, **kw):
    torch.manual_seed(seed)
    n = Backbone(BackboneConfig(**kw))
    with torch.no_grad():
        for p in n.parameters():
            p.add_(0.05 * torch.randn_like(p))  # heads start at zero: make every branch count
    return n.eval()


class TestBackbone(unittest.TestCase):
    def test_fold_is_exact(self):
        n = net(ch=8, blocks=3)
        x = torch.rand(2, 3, 13, 17)
        with torch.no_grad():
            want = n(x)
            got = copy.deepcopy(n).fold()(x)
        for s in want:
            self.assertEqual(got[s].shape, (2, 3, 13 * s, 17 * s))
            torch.testing.assert_close(got[s], want[s], atol=1e-5, rtol=1e-5)

    def test_receptive_radius(self):
        """An output pixel moves with an LR pixel R away and not with one R + 1 away (the Go halo)."""
        cfg = BackboneConfig(ch=8, blocks=2, k_in=5)
        n, R, c = net(ch=8, blocks=2, k_in=5), cfg.receptive_radius(), 20
        x = torch.rand(1, 3, 41, 41)
        with torch.no_grad():
            base = n(x, scales=[4])[4][0, :, 4 * c:4 * c + 4, 4 * c:4 * c + 4]
            for d, moves in ((R, True), (R + 1, False)):
                y = x.clone()
                y[0, :, c, c + d] += 0.5
                o = n(y, scales=[4])[4][0, :, 4 * c:4 * c + 4, 4 * c:4 * c + 4]
                self.assertEqual(bool((o - base).abs().max() > 0), moves, f"distance {d}")

    def test_export_names(self):
        cfg = BackboneConfig(ch=8, blocks=2)
        st = net(ch=8, blocks=2).export_state()
        want = {"bb.conv_in.weight": (8, 3, 5, 5), "bb.block.1.weight": (8, 8, 3, 3), "bb.head.4.weight": (48, 8, 3, 3),
                "bb.head.1.bias": (3,)}
        for k, shape in want.items():
            self.assertEqual(tuple(st[k].shape), shape, k)
        self.assertEqual(len(st), 2 * (1 + cfg.blocks + len(cfg.scales)))

    def test_degrade_is_the_literature_protocol(self):
        """LR of a constant image is that constant; a 4×4 block → its PIL-bicubic value, 8-bit."""
        hr = np.full((8, 12, 3), 77, np.uint8)
        lr, f = degrade(hr, 4)
        self.assertEqual(lr.shape, (2, 3, 3))
        self.assertTrue((lr == 77).all())
        np.testing.assert_allclose(f, 77 / 255, atol=1e-6)
        hr = np.zeros((8, 8, 3), np.uint8)
        hr[:4, :4] = 255
        lr, f = degrade(hr, 4)
        self.assertEqual(lr.dtype, np.uint8)
        self.assertTrue(lr[0, 0, 0] > 200 and lr[1, 1, 0] < 55 and lr[0, 1, 0] == lr[1, 0, 0])


if __name__ == "__main__":
    unittest.main()
