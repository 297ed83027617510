"""Load a trained tokenizer (EMA weights) from a run directory or file."""
import os

import torch

from .config import Config
from .tokenizer import Tokenizer


def load_tokenizer(path):
    if os.path.isdir(path):
        path = os.path.join(path, "tok_ema.pt")
    s = torch.load(path)
    cfg = Config.from_json(s["cfg"])
    tok = Tokenizer(cfg)
    tok.load_state_dict(s["ema"])
    tok.eval()
    for p in tok.parameters():
        p.requires_grad_(False)
    return cfg, tok
