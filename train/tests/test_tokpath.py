"""Model v2 token path (docs/model.md §10)."""
import copy
import os
import unittest

import _path  # noqa: F401
import numpy as np
import torch
import torch.nn.functional as F

from hitsr.config import TINY_V2
from hitsr.export import load_safetensors
from hitsr.losses import dpo_ref_loss, token_logp
from hitsr.tokpath import TokPath, cond_of
from hitsr.transformer import Transformer, sample_topk, uniform_hash

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def models(seed=0):
    torch.manual_seed(seed)
    tp, tr = TokPath(TINY_V2), Transformer(TINY_V2)
    with torch.no_grad():
        for p in list(tp.parameters()) + list(tr.parameters()):
            p.add_(0.05 * torch.randn_like(p))
    return tp.eval(), tr.eval()


class TestTokPath(unittest.TestCase):
    def test_teacher_forcing_equals_generation(self):
        """Greedy KV-cache generation's logits equal teacher forcing on its own tokens."""
        tp, tr = models()
        cfg = TINY_V2
        cond = cond_of(cfg, torch.rand(3, cfg.cond_ch, cfg.tile, cfg.tile))
        with torch.no_grad():
            ids, _, logits = tr.generate(tp, None, cond=cond, decode=set(), return_logits=True)
            xs, _ = tp.replay(ids)
            tf = tr(cond, xs)
        self.assertTrue(torch.allclose(torch.cat(logits, 1), tf, atol=1e-5))

    def test_posterior_mean(self):
        """replay_mean over logits that put all mass on one code per position replays those codes (the whole
        walk and the first segment's); uniform logits add the codebook's mean at every position."""
        tp, _ = models()
        cfg = TINY_V2
        torch.manual_seed(1)
        ids = [torch.randint(0, cfg.vocab, (2, p * p)) for p in cfg.scales]
        sure = torch.cat([F.one_hot(i, cfg.vocab).float() * 1e4 for i in ids], 1)
        K1 = len(cfg.segments[0])
        with torch.no_grad():
            for K in (cfg.K, K1):
                want = tp.replay(ids[:K])[1]
                got = tp.replay_mean(sure[:, :sum(p * p for p in cfg.scales[:K])])
                self.assertEqual(len(got), len(want))
                for g, w in zip(got, want):
                    self.assertTrue(torch.allclose(g, w, atol=1e-5))
            fhat, mean = tp.fhat0(2), tp.quant.embedding.mean(0).view(1, -1, 1, 1)
            for k, p in enumerate(cfg.scales):
                fhat = tp.add_codes(tp.carry(fhat, k), k, mean.expand(2, -1, p, p))
            got = tp.replay_mean(torch.zeros(2, cfg.n_tokens, cfg.vocab))[-1]
            self.assertTrue(torch.allclose(got, fhat, atol=1e-5))

    def test_condition_embedding(self):
        """cond "embed" (model.md §10): cond_proj of the features space-to-depth by the cell, channel-major
        (pixel_unshuffle's order), area-pooled to each scale's grid and added to its embeddings; no
        condition tokens."""
        _, tr = models()
        cfg = TINY_V2
        feat = torch.randn(2, cfg.cond_ch, cfg.tile, cfg.tile)
        grid = tr.embed_cond(feat)
        s2d = torch.nn.functional.pixel_unshuffle(feat, cfg.cell)  # [B, C·cell², Gmax, Gmax]
        want = tr.cond_proj(s2d.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(grid.shape)
        self.assertTrue(torch.allclose(grid, want, atol=1e-6))
        self.assertEqual((cfg.T_cond, cfg.blocks), (0, [p * p for p in cfg.scales]))
        x = torch.rand(2, cfg.z, cfg.scales[1], cfg.scales[1])
        with torch.no_grad():
            d = tr.embed_scale(1, x, 2, grid) - tr.embed_scale(1, x, 2)
            p = cfg.scales[1]
            self.assertTrue(torch.allclose(d, torch.nn.functional.adaptive_avg_pool2d(grid, p).flatten(2).transpose(1, 2), atol=1e-6))

    def test_prefix_tokens_independent_of_later_segments(self):
        tp, tr = models(1)
        cond = cond_of(TINY_V2, torch.rand(2, TINY_V2.cond_ch, TINY_V2.tile, TINY_V2.tile))
        full, _ = tr.generate(tp, None, cond=cond, decode=set())
        early, _ = tr.generate(tp, None, cond=cond, decode=set(), nseg=2)
        self.assertEqual(len(early), sum(len(s) for s in TINY_V2.segments[:2]))
        for a, b in zip(early, full):
            self.assertTrue(torch.equal(a, b))

    def test_decoder_starts_at_the_backbone(self):
        """dec.out starts at zero: an untrained token path returns the backbone's outputs."""
        torch.manual_seed(0)
        tp = TokPath(TINY_V2)
        T = TINY_V2.tile
        g = tp.dec.feat(torch.rand(2, TINY_V2.cond_ch, T + 2, T + 2))
        for n in range(TINY_V2.nseg):
            G = TINY_V2.G(n)
            bb = torch.rand(2, 3, T * 2 ** n, T * 2 ** n)
            self.assertTrue(torch.equal(tp.dec(g, torch.rand(2, TINY_V2.z, G, G), n, bb), bb))

    def test_dpo_reference(self):
        """log 2 at θ = ref; its gradient raises ℓ(chosen) and lowers ℓ(rejected)."""
        _, tr = models(2)
        ref = copy.deepcopy(tr)
        cfg = TINY_V2
        cond = cond_of(cfg, torch.rand(4, cfg.cond_ch, cfg.tile, cfg.tile))
        w = [torch.randint(0, cfg.vocab, (4, p * p)) for p in cfg.scales]
        l = [torch.randint(0, cfg.vocab, (4, p * p)) for p in cfg.scales]
        tp, _ = models(3)
        xw, _ = tp.replay(w)
        xl, _ = tp.replay(l)
        lp = lambda m, x, ids: token_logp(m(cond, x), torch.cat(ids, 1)).sum(1)
        with torch.no_grad():
            rw, rl = lp(ref, xw, w), lp(ref, xl, l)
        loss = dpo_ref_loss(lp(tr, xw, w), lp(tr, xl, l), rw, rl)
        self.assertAlmostEqual(float(loss), float(torch.log(torch.tensor(2.0))), places=5)
        opt = torch.optim.SGD(tr.parameters(), lr=0.05)
        loss.backward()
        opt.step()
        with torch.no_grad():
            self.assertGreater(float((lp(tr, xw, w) - rw).mean()), 0)
            self.assertLess(float((lp(tr, xl, l) - rl).mean()), 0)

    def test_golden_recomputes(self):
        """testdata/golden/v2_io and shipped_v2_io from their stored models (what the Go parity tests use)."""
        from make_v2_golden import load_v2
        from hitsr.fullv2 import upscale
        for model, io_name in (("testdata/golden/v2_model.safetensors", "v2_io"),
                               ("models/hitsr-tiny.safetensors", "shipped_v2_io")):
            io, _ = load_safetensors(os.path.join(ROOT, "testdata/golden", io_name + ".safetensors"))
            bb, tp, tr = load_v2(os.path.join(ROOT, model))
            for name in sorted({k.split(".")[0] for k in io if k.endswith(".input")}):
                outs, ids = upscale(bb, tp, tr, io[f"{name}.input"])
                for s, y in outs.items():
                    self.assertTrue(torch.allclose(y, io[f"{name}.out.{s}"], atol=1e-5), f"{io_name} {name} ×{s}")
                for k, i in enumerate(ids):
                    self.assertTrue(torch.equal(i.int(), io[f"{name}.ids.{k}"]), f"{io_name} {name} ids {k}")

    def test_sampled_golden_recomputes(self):
        """The sampled tensors of v2_io.safetensors from its stored model and SAMPLE."""
        from make_v2_golden import FRAMES, SAMPLE, load_v2
        from hitsr.fullv2 import upscale
        io, meta = load_safetensors(os.path.join(ROOT, "testdata/golden/v2_io.safetensors"))
        self.assertEqual({k: str(v) for k, v in SAMPLE.items()}, {k[7:]: v for k, v in meta.items() if k.startswith("sample_")})
        bb, tp, tr = load_v2(os.path.join(ROOT, "testdata/golden/v2_model.safetensors"))
        for name in FRAMES:
            outs, ids = upscale(bb, tp, tr, io[f"{name}.input"], **SAMPLE)
            for s, y in outs.items():
                self.assertTrue(torch.allclose(y, io[f"{name}.sampled.out.{s}"], atol=1e-5), f"{name} ×{s}")
            for k, i in enumerate(ids):
                self.assertTrue(torch.equal(i.int(), io[f"{name}.sampled.ids.{k}"]), f"{name} ids {k}")

    def test_sampling(self):
        """Seeded top-k: deterministic, keyed by tile origin (not batch position), top-k 1 = greedy,
        the empirical frequencies follow softmax(top-k / T)."""
        tp, tr = models()
        cond = cond_of(TINY_V2, torch.randn(3, TINY_V2.cond_ch, TINY_V2.tile, TINY_V2.tile))
        origins = [(0, 0), (0, 8), (8, 0)]
        run = lambda c, o, **kw: tr.generate(tp, None, cond=c, decode=set(), origins=o, **kw)[0]
        greedy = run(cond, origins)
        a = run(cond, origins, topk=4, temperature=2.0, seed=5)
        self.assertTrue(all(torch.equal(x, y) for x, y in zip(a, run(cond, origins, topk=4, temperature=2.0, seed=5))))
        self.assertFalse(all(torch.equal(x, y) for x, y in zip(a, run(cond, origins, topk=4, temperature=2.0, seed=6))))
        self.assertFalse(all(torch.equal(x, y) for x, y in zip(a, greedy)))
        self.assertTrue(all(torch.equal(x, y) for x, y in zip(greedy, run(cond, origins, topk=1, seed=9))))
        rev = run(cond.flip(0), origins[::-1], topk=4, temperature=2.0, seed=5)  # batch order does not matter
        self.assertTrue(all(torch.equal(x, y.flip(0)) for x, y in zip(a, rev)))
        # inverse CDF: draws over many uniforms follow the top-k softmax
        logits = torch.tensor([[2.0, 0.5, 1.0, -1.0, 1.0, 0.0]]).expand(20000, 6)
        u = uniform_hash(1, 0, 0, 0, np.arange(20000))
        freq = torch.bincount(sample_topk(logits, u, 4, 1.5), minlength=6).float() / 20000
        want = torch.zeros(6)
        want[[0, 2, 4, 1]] = (torch.tensor([2.0, 1.0, 1.0, 0.5]) / 1.5).softmax(-1)
        self.assertLess((freq - want).abs().max().item(), 0.015)


if __name__ == "__main__":
    unittest.main()
