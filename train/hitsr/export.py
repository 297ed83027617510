"""Minimal safetensors writer/reader (no `safetensors` package)."""
import json
import struct

import numpy as np
import torch

_DT = {torch.float32: "F32", torch.float16: "F16", torch.int32: "I32", torch.int64: "I64", torch.uint8: "U8"}
_NP = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def save_safetensors(path, tensors: dict, metadata: dict = None, dtype=None):
    """tensors: name -> torch.Tensor. dtype: optionally cast float tensors (e.g. torch.float16)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        if t.dtype not in _DT:
            t = t.float()
        a = t.numpy()
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # align data to 8 bytes
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(h)))
        fh.write(h)
        for b in blobs:
            fh.write(b)


def load_safetensors(path):
    """Returns (dict name -> torch.Tensor (fp16 kept as fp16), metadata dict)."""
    with open(path, "rb") as fh:
        data = fh.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, h in header.items():
        s, e = h["data_offsets"]
        a = np.frombuffer(data[base + s:base + e], dtype=np.dtype(_NP[h["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(a.astype(_NP[h["dtype"]]).reshape(h["shape"]).copy())
    return out, meta


def model_state(tok, tr=None):
    sd = {k: v for k, v in tok.state_dict().items()}
    if tr is not None:
        sd.update({k: v for k, v in tr.state_dict().items()})
    return sd


def export_model(path, cfg, tok, tr=None, dtype=torch.float32, extra_meta=None):
    meta = {"config": cfg.to_json(), "format": "hitsr-v1"}
    if extra_meta:
        meta.update(extra_meta)
    save_safetensors(path, model_state(tok, tr), meta, dtype=dtype)


def import_model(path):
    from .config import Config
    from .tokenizer import Tokenizer
    from .transformer import Transformer
    sd, meta = load_safetensors(path)
    cfg = Config.from_json(meta["config"])
    tok, tr = Tokenizer(cfg), Transformer(cfg)
    sd = {k: v.float() for k, v in sd.items()}
    tok.load_state_dict({k: v for k, v in sd.items() if k.split(".")[0] in ("enc", "dec", "quant")})
    tsd = {k: v for k, v in sd.items() if k.split(".")[0] not in ("enc", "dec", "quant", "bb")}  # bb: the backbone
    if tsd:
        tr.load_state_dict(tsd)
    else:
        tr = None
    return cfg, tok, tr
