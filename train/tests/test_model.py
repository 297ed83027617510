import json
import os
import struct
import tempfile
import unittest

import _path  # noqa: F401
import torch

from hitsr.config import SHIPPED, TINY, Config
from hitsr.export import export_model, import_model, load_safetensors
from hitsr.losses import dpo_loss, token_logp
from hitsr.tokenizer import Tokenizer
from hitsr.transformer import Transformer, block_causal_mask

torch.set_num_threads(1)


def rand_img(cfg, B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, 3, cfg.tile * 4, cfg.tile * 4, generator=g)


class TestNested(unittest.TestCase):
    def check(self, cfg):
        torch.manual_seed(0)
        tok = Tokenizer(cfg).eval()
        with torch.no_grad():
            for p in tok.quant.phi:  # make phi non-trivial
                p.weight.normal_(0, 0.1)
            hr = rand_img(cfg)
            Zs = tok.latents(tok.seg_images(hr))
            seqs = [torch.cat(tok.quantize(Zs, nseg=n + 1)[0], 1) for n in range(cfg.nseg)]
        lens = [sum(p * p for p in cfg.scales if True) for _ in range(1)]
        for n in range(cfg.nseg):
            exp_len = sum(p * p for k, p in enumerate(cfg.scales) if cfg.seg_of[k] <= n)
            self.assertEqual(seqs[n].shape[1], exp_len)
        self.assertTrue(torch.equal(seqs[0], seqs[1][:, :seqs[0].shape[1]]))
        self.assertTrue(torch.equal(seqs[0], seqs[2][:, :seqs[0].shape[1]]))
        self.assertTrue(torch.equal(seqs[1], seqs[2][:, :seqs[1].shape[1]]))
        self.assertEqual(seqs[2].shape[1], cfg.n_tokens)

    def test_nested_tiny(self):
        self.check(TINY)

    def test_nested_shipped(self):
        self.check(SHIPPED)
        self.assertEqual(SHIPPED.n_tokens, 130)
        self.assertEqual(SHIPPED.scales, [1, 2, 3, 4, 6, 8])

    def test_decode_shapes(self):
        cfg = TINY
        tok = Tokenizer(cfg)
        hr = rand_img(cfg)
        lr = torch.nn.functional.interpolate(hr, size=(cfg.tile, cfg.tile), mode="bicubic", antialias=True)
        with torch.no_grad():
            imgs = tok.decode(tok.encode(hr), lr)
        self.assertEqual([im.shape[-1] for im in imgs], [cfg.tile, cfg.tile * 2, cfg.tile * 4])
        # cond decoder zero-init: starts exactly at bicubic (x1: the LR itself)
        self.assertTrue(torch.allclose(imgs[0], lr))


class TestPlainRQ(unittest.TestCase):
    def test_plain_forward_and_generate(self):
        import dataclasses
        cfg = dataclasses.replace(TINY, rq="plain")
        torch.manual_seed(3)
        tok, tr = Tokenizer(cfg), Transformer(cfg)
        hr = rand_img(cfg)
        lr = torch.nn.functional.interpolate(hr, size=(cfg.tile, cfg.tile), mode="bicubic", antialias=True)
        outs, vq, idxs, res, seg = tok.forward_train(hr, lr, torch.tensor([True, False]))
        self.assertEqual([o.shape[-1] for o in outs], [cfg.tile, cfg.tile * 2, cfg.tile * 4])
        self.assertEqual(sum(i.shape[1] for i in idxs), cfg.n_tokens)
        (sum(o.mean() for o in outs) + vq).backward()
        with torch.no_grad():
            gi, gimg = tr.generate(tok, lr)
        self.assertEqual([o.shape[-1] for o in gimg], [cfg.tile, cfg.tile * 2, cfg.tile * 4])


class TestMask(unittest.TestCase):
    def test_mask(self):
        cfg = SHIPPED
        m = block_causal_mask(cfg)
        T = cfg.T_cond + cfg.n_tokens
        self.assertEqual(T, 194)
        self.assertEqual(tuple(m.shape), (T, T))
        self.assertEqual(cfg.blocks, [64, 1, 4, 9, 16, 36, 64])
        # condition block sees itself only
        self.assertTrue((m[:64, :64] == 0).all())
        self.assertTrue(torch.isinf(m[:64, 64:]).all())
        # scale-1 token (pos 64) sees cond + itself, not scale 2
        self.assertTrue((m[64, :65] == 0).all() and torch.isinf(m[64, 65:]).all())
        # last token sees everything
        self.assertTrue((m[-1] == 0).all())
        # within a scale: full visibility (scale 3 = positions 69..77)
        self.assertTrue((m[69:78, :78] == 0).all() and torch.isinf(m[69:78, 78:]).all())


class TestDPO(unittest.TestCase):
    def test_sign_and_grad(self):
        lw = torch.tensor([-1.0, -2.0], requires_grad=True)
        ll = torch.tensor([-3.0, -2.0], requires_grad=True)
        loss = dpo_loss(lw, ll, beta=0.2)
        loss.backward()
        # preferring the winner lowers the loss below log 2 (equal case gives exactly log 2)
        self.assertLess(dpo_loss(torch.tensor([-1.0]), torch.tensor([-3.0])).item(), 0.6931)
        self.assertAlmostEqual(dpo_loss(torch.tensor([-2.0]), torch.tensor([-2.0])).item(), 0.693147, places=5)
        self.assertGreater(dpo_loss(torch.tensor([-3.0]), torch.tensor([-1.0])).item(), 0.6932)
        # gradient descent raises l_w and lowers l_l
        self.assertTrue((lw.grad < 0).all())
        self.assertTrue((ll.grad > 0).all())
        self.assertTrue(torch.allclose(lw.grad, -ll.grad))
        # equal case: d/dl_w = -beta * sigma(0) / B
        self.assertAlmostEqual(lw.grad[1].item(), -0.2 * 0.5 / 2, places=6)

    def test_through_model(self):
        cfg = TINY
        torch.manual_seed(0)
        tok, tr = Tokenizer(cfg), Transformer(cfg)
        hr = rand_img(cfg)
        lr = torch.nn.functional.interpolate(hr, size=(cfg.tile, cfg.tile), mode="bicubic", antialias=True)
        with torch.no_grad():
            iw = tok.encode(hr)
            il = tok.encode(torch.nn.functional.interpolate(lr, size=hr.shape[-2:], mode="bicubic"))
            c = tok.cond_latent(lr)
        lw = token_logp(tr(c, tok.replay(iw)[0]), torch.cat(iw, 1)).mean(1)
        ll = token_logp(tr(c, tok.replay(il)[0]), torch.cat(il, 1)).mean(1)
        loss = dpo_loss(lw, ll)
        loss.backward()
        self.assertTrue(all(p.grad is not None for p in tr.head.parameters()))


class TestKVCache(unittest.TestCase):
    def test_generate_matches_teacher_forcing(self):
        cfg = TINY
        torch.manual_seed(1)
        tok, tr = Tokenizer(cfg).eval(), Transformer(cfg).eval()
        lr = torch.rand(2, 3, cfg.tile, cfg.tile)
        with torch.no_grad():
            idxs, imgs, lg = tr.generate(tok, lr, return_logits=True)
            tf = tr(tok.cond_latent(lr), tok.replay(idxs)[0])
            self.assertTrue(torch.allclose(torch.cat(lg, 1), tf, atol=1e-5))
            dec = tok.decode(idxs, lr)
            for a, b in zip(imgs, dec):
                self.assertTrue(torch.allclose(a, b, atol=1e-6))


class TestExport(unittest.TestCase):
    def test_round_trip(self):
        cfg = TINY
        torch.manual_seed(2)
        tok, tr = Tokenizer(cfg), Transformer(cfg)
        with torch.no_grad():
            tok.dec.conv_out.weight.normal_(0, 0.1)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            export_model(p, cfg, tok, tr)
            with open(p, "rb") as fh:
                n = struct.unpack("<Q", fh.read(8))[0]
                h = json.loads(fh.read(n))
            self.assertEqual(json.loads(h["__metadata__"]["config"]), json.loads(cfg.to_json()))
            self.assertEqual(h["quant.embedding"]["dtype"], "F32")
            self.assertEqual(h["quant.embedding"]["shape"], [cfg.vocab, cfg.z])
            for name in ["enc.conv_in.weight", "enc.down.0.res.0.conv1.weight", "enc.down.1.conv.bias",
                         "enc.mid.conv2.weight", "dec.seg_emb", "dec.up.0.conv.weight", "quant.phi.0.weight",
                         "cond_proj.weight", "pos", "start", "lvl", "word_embed.bias", "blocks.1.attn.qkv.weight",
                         "blocks.0.mlp.fc2.bias", "ln_f.weight", "head.weight"]:
                self.assertIn(name, h)
            cfg2, tok2, tr2 = import_model(p)
            self.assertEqual(cfg2, cfg)
            lr = torch.rand(1, 3, cfg.tile, cfg.tile)
            with torch.no_grad():
                a = tr.generate(tok, lr)
                b = tr2.generate(tok2, lr)
            for x, y in zip(a[0], b[0]):
                self.assertTrue(torch.equal(x, y))
            for x, y in zip(a[1], b[1]):
                self.assertTrue(torch.equal(x, y))
            # fp16 export
            p16 = os.path.join(d, "m16.safetensors")
            export_model(p16, cfg, tok, tr, dtype=torch.float16)
            sd, meta = load_safetensors(p16)
            self.assertEqual(sd["head.weight"].dtype, torch.float16)


if __name__ == "__main__":
    unittest.main()
