"""Golden files for config variants (rq plain, fidelity pure, deeper AE) with the train/ reference.
Run from the repository root: /usr/bin/python3 model/testdata/make_variants.py"""
import dataclasses, os, sys
sys.path.insert(0, "train")
import torch
from make_golden import golden
from hitsr.config import TINY
from hitsr.data import DATA, to_tensor
from hitsr.export import export_model, import_model, save_safetensors
from hitsr.imageio import read_image
from hitsr.tokenizer import Tokenizer
from hitsr.transformer import Transformer

VARIANTS = {
    "plain": dict(rq="plain"),
    "pure": dict(fidelity="pure", res_blocks=2),
    "deep": dict(tile=16, f=8, enc_ch=[4, 8, 8], segments=[[1, 2], [4], [3, 8]], z=3, heads=4),
}
img = to_tensor(read_image(os.path.join(DATA, "train/T91/t1.png")))
for name, kw in VARIANTS.items():
    cfg = dataclasses.replace(TINY, **kw)
    torch.manual_seed(1)
    tok, tr = Tokenizer(cfg), Transformer(cfg)
    with torch.no_grad():
        tok.dec.conv_out.weight.normal_(0, 0.05)
        tok.dec.conv_out.bias.normal_(0, 0.01)
        tok.dec.seg_emb.normal_(0, 0.1)
    p = f"model/testdata/{name}_model.safetensors"
    export_model(p, cfg, tok, tr)
    cfg, tok, tr = import_model(p)
    S = cfg.tile * 4
    save_safetensors(f"model/testdata/{name}_io.safetensors", golden(cfg, tok, tr, img[:, :, 40:40 + S, 40:40 + S]),
                     {"config": cfg.to_json(), "model": f"{name}_model.safetensors"})
