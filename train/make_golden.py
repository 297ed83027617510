"""Golden files for Go parity (testdata/golden/).

  tiny_model.safetensors  random-init TINY config weights (seed 0), config in metadata
  tiny_io.safetensors     inputs / intermediates / outputs of that model on one small image
  shipped_io.safetensors  the same for models/hitsr-tiny.safetensors (weights not duplicated)

Tensor names in *_io: see docs/training.md ("Golden files").
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch

from hitsr.config import TINY
from hitsr.data import DATA, bicubic_up, resize_aa, to_tensor
from hitsr.export import export_model, import_model, save_safetensors
from hitsr.imageio import read_image
from hitsr.util import setup_threads


@torch.no_grad()
def golden(cfg, tok, tr, hr):
    tok.eval(); tr.eval()
    out = {"hr": hr}
    lr = resize_aa(hr, cfg.tile)
    out["lr"] = lr
    seg = tok.seg_images(hr)
    for n, x in enumerate(seg):
        out[f"seg_img.{n}"] = x
    Zs = tok.latents(seg)
    for n, Z in enumerate(Zs):
        out[f"enc.latent.{n}"] = Z
    c = tok.cond_latent(lr)
    out["cond.up"] = bicubic_up(lr, cfg.tile * 4)
    out["cond.latent"] = c
    idxs, fhats, _, res = tok.quantize(Zs)
    for k, (i, r) in enumerate(zip(idxs, res)):
        out[f"hr.tokens.{k}"] = i.int()
        out[f"hr.residual.{k}"] = r
    for n, f in enumerate(fhats):
        out[f"hr.fhat.{n}"] = f
        out[f"hr.image.{n}"] = tok.decode_seg(f, c, n, lr)
    xs, _ = tok.replay(idxs)
    for k, x in enumerate(xs):
        out[f"hr.tf_input.{k + 1}"] = x
    B = 1
    emb = torch.cat([tr.embed_cond(c)] + [tr.embed_scale(k, xs[k - 1] if k else None, B) for k in range(cfg.K)], 1)
    out["tf.embed"] = emb
    out["tf.logits"] = tr(c, xs)
    gi, gimg, glog = tr.generate(tok, lr, return_logits=True)
    for k, (i, l) in enumerate(zip(gi, glog)):
        out[f"gen.tokens.{k}"] = i.int()
        out[f"gen.logits.{k}"] = l
    for n, im in enumerate(gimg):
        out[f"gen.image.{n}"] = im
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/hitsr-tiny.safetensors")
    ap.add_argument("--out", default="testdata/golden")
    ap.add_argument("--image", default=os.path.join(DATA, "train/T91/t1.png"))
    a = ap.parse_args()
    setup_threads()
    os.makedirs(a.out, exist_ok=True)
    img = to_tensor(read_image(a.image))
    # tiny random-init model
    from hitsr.tokenizer import Tokenizer
    from hitsr.transformer import Transformer
    torch.manual_seed(0)
    tok, tr = Tokenizer(TINY), Transformer(TINY)
    with torch.no_grad():  # make the zero-init output conv non-trivial so the decoder path is tested
        tok.dec.conv_out.weight.normal_(0, 0.05)
        tok.dec.conv_out.bias.normal_(0, 0.01)
        tok.dec.seg_emb.normal_(0, 0.1)
    p = os.path.join(a.out, "tiny_model.safetensors")
    export_model(p, TINY, tok, tr)
    cfg, tok, tr = import_model(p)
    S = cfg.tile * 4
    save_safetensors(os.path.join(a.out, "tiny_io.safetensors"), golden(cfg, tok, tr, img[:, :, 40:40 + S, 40:40 + S]),
                     {"config": cfg.to_json(), "model": "tiny_model.safetensors", "image": os.path.basename(a.image)})
    if os.path.exists(a.model):
        cfg, tok, tr = import_model(a.model)
        S = cfg.tile * 4
        save_safetensors(os.path.join(a.out, "shipped_io.safetensors"),
                         golden(cfg, tok, tr, img[:, :, 40:40 + S, 40:40 + S]),
                         {"config": cfg.to_json(), "model": os.path.relpath(a.model), "image": os.path.basename(a.image)})
    for f in sorted(os.listdir(a.out)):
        print(f, os.path.getsize(os.path.join(a.out, f)))


if __name__ == "__main__":
    main()
