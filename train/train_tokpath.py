"""Train the model v2 token path (docs/model.md §10) over the frozen fidelity backbone. Resumable.

Stages (each resumes from <run>/<stage>.pt, then from the committed snapshot):
  tok  the residual encoder, quantizer and decoder on ground-truth tokens (the ceiling)
  tr   the transformer: cross-entropy on the HR tokens; with --dpo-from, plus DPO against a frozen
       reference (the CE-only checkpoint at that step): chosen = HR tokens, rejected = the tokens of the
       upsampled LR
  ft   the decoder on the transformer's own greedy tokens (quantizer and transformer frozen), L2
  mean transformer and decoder together, L2 of the decoded posterior mean (each scale's expected code
       given the greedy tokens before it) plus --ce × the teacher-forced cross-entropy
--cond picks the transformer's condition (docs/model.md §5; default V2's "embed"; "prefix": condition tokens,
as the DPO runs of docs/training.md); a snapshot of the other kind starts the transformer afresh.
  OMP_NUM_THREADS=1 /usr/bin/python3 train/train_tokpath.py --stage tok --steps 3000
"""
import argparse
import copy
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import torch
import torch.nn.functional as F

from hitsr.backbone import load_backbone
from hitsr.config import V2, Config
from hitsr.data import bicubic_up, load_train
from hitsr.losses import dpo_ref_loss, token_logp
from hitsr.protocol import resize_float
from hitsr.tokpath import TokPath, cond_of
from hitsr.transformer import Transformer
from hitsr.util import EMA, Logger, save_atomic, setup_threads
from train_backbone import build_pairs

DIHEDRAL = 8


def dihedral(a, t):
    """HxWxC array under transform t (0..7)."""
    a = np.rot90(a, t % 4)
    return np.ascontiguousarray(a[:, ::-1] if t >= 4 else a)


@torch.no_grad()
def prepare(bb, cache, tile, seed=0):
    """Per training image and two dihedral transforms: HR, the ×1/×2 targets, LR and the backbone's
    features (zero-padded by 1) and outputs — the backbone is frozen, so it runs once here."""
    if os.path.exists(cache):
        return torch.load(cache, weights_only=False)
    rng = np.random.default_rng(seed)
    pairs = build_pairs(load_train(), os.path.join(os.path.dirname(cache), "backbone_pairs.npz"))
    out = []
    for i, p in enumerate(pairs):
        if min(p["lr4"].shape[:2]) < tile:
            continue
        for t in (0, int(rng.integers(1, DIHEDRAL))):
            hr, lr = dihedral(p["hr"], t), dihedral(p["lr4"], t)
            t1 = dihedral(p["lr4f"], t)
            ht = torch.from_numpy(hr).permute(2, 0, 1)[None].double() / 255
            t2 = resize_float(ht, hr.shape[0] // 2, hr.shape[1] // 2)[0].float()
            x = torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255
            f = bb.features(x)
            ys = {s: bb.head(f, x, s)[0].half() for s in (1, 2, 4)}
            out.append(dict(hr=torch.from_numpy(hr).permute(2, 0, 1).contiguous(), lr=x[0].half(),
                            t1=torch.from_numpy(t1).permute(2, 0, 1).half(), t2=t2.half(),
                            feat=F.pad(f, (1, 1, 1, 1))[0].half(), y1=ys[1], y2=ys[2], y4=ys[4]))
        if i % 100 == 0:
            print(f"prepare {i}/{len(pairs)}", flush=True)
    torch.save(out, cache)
    return out


class TileSampler:
    def __init__(self, data, tile, seed):
        self.data, self.tile = data, tile
        self.rng = np.random.default_rng(seed)
        a = np.array([d["lr"].shape[1] * d["lr"].shape[2] for d in data], dtype=np.float64)
        self.p = a / a.sum()

    def batch(self, b):
        T, cols = self.tile, {k: [] for k in ("feat", "lr", "y1", "y2", "y4", "t1", "t2", "hr")}
        for i in self.rng.choice(len(self.data), size=b, p=self.p):
            d = self.data[i]
            y = int(self.rng.integers(0, d["lr"].shape[1] - T + 1))
            x = int(self.rng.integers(0, d["lr"].shape[2] - T + 1))
            cols["feat"].append(d["feat"][:, y:y + T + 2, x:x + T + 2])
            for k, s in (("lr", 1), ("y1", 1), ("t1", 1), ("y2", 2), ("t2", 2), ("y4", 4), ("hr", 4)):
                cols[k].append(d[k][:, y * s:(y + T) * s, x * s:(x + T) * s])
        out = {k: torch.stack(v).float() for k, v in cols.items()}
        out["hr"] /= 255
        return out


def segs(b):
    """(targets, backbone outputs) per segment ×1, ×2, ×4."""
    return [b["t1"], b["t2"], b["hr"]], [b["y1"], b["y2"], b["y4"]]


def psnr(a, b):
    return float(10 * torch.log10(1 / F.mse_loss(a.clamp(0, 1), b)))


def gains(outs, tg, bbs, sel=slice(None)):
    """PSNR gain of the ×4 and ×2 outputs over the backbone's (on the samples sel)."""
    return {f"gain{2 ** n}": psnr(outs[n][sel], tg[n][sel]) - psnr(bbs[n][sel], tg[n][sel]) for n in (2, 1)}


def teacher_forced_ce(tr, cond, tp, tg, bbs):
    """The transformer on the HR's tokens: (cross-entropy, accuracy, logits, token ids, inputs)."""
    with torch.no_grad():
        ids = tp.quantize(tp.latents(tg, bbs))[0]
        xs, _ = tp.replay(ids)
    logits = tr(cond, xs)
    tgt = torch.cat(ids, 1)
    ce = F.cross_entropy(logits.flatten(0, 1), tgt.flatten())
    return ce, float((logits.argmax(-1) == tgt).float().mean()), logits, ids, xs


def seq_logp(logits, ids):
    """Per-sample sum of token log-probabilities [B]."""
    return token_logp(logits, torch.cat(ids, 1)).sum(1)


def lr_tokens(tp, b):
    """The rejected sequence: tokens of the upsampled LR (plain bicubic) in place of HR."""
    T = tp.cfg.tile
    ups = [bicubic_up(b["lr"], T * 2 ** n).clamp(0, 1) for n in range(tp.cfg.nseg)]
    return tp.quantize(tp.latents(ups, segs(b)[1]))[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", choices=["tok", "tr", "ft", "mean"], required=True)
    ap.add_argument("--run", default="train/runs/tp")
    ap.add_argument("--snapshot", default="train/snapshots/tokpath.pt")
    ap.add_argument("--backbone", default="train/snapshots/backbone.pt")
    ap.add_argument("--steps", type=int, default=3000, help="length of this stage's cosine schedule")
    ap.add_argument("--until", type=int, default=0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--dpo-from", type=int, default=0, help="tr: add DPO from this step (reference = EMA then)")
    ap.add_argument("--beta", type=float, default=0.2)
    ap.add_argument("--ref", default="", help="tr: the DPO reference's snapshot (default: the EMA when DPO starts)")
    ap.add_argument("--rq", default="hit", choices=["hit", "plain"])
    ap.add_argument("--cond", default=V2.cond, choices=["prefix", "embed"], help="the transformer's condition")
    ap.add_argument("--cfg", default="{}", help='JSON overriding V2 fields, e.g. \'{"f": 8}\' (a fresh run)')
    ap.add_argument("--warm", type=int, default=300,
                    help="tok: steps with continuous latents (no quantizer) before VQ starts")
    ap.add_argument("--bypass", type=float, default=0.5, help="tok: share of samples decoded from continuous latents")
    ap.add_argument("--commit", type=float, default=0.05, help="tok: commitment weight")
    ap.add_argument("--ce", type=float, default=1.0, help="mean: weight of the cross-entropy")
    ap.add_argument("--l2", type=float, default=1000.0, help="mean: weight of the L2 (pixels in [0, 1])")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-minutes", type=float, default=0)
    a = ap.parse_args()
    setup_threads()
    torch.manual_seed(a.seed)
    os.makedirs(a.run, exist_ok=True)
    cfg = Config(**{**V2.__dict__, "rq": a.rq, "cond": a.cond, **json.loads(a.cfg)})
    bb, _ = load_backbone(a.backbone)
    for p in bb.parameters():
        p.requires_grad_(False)
    data = prepare(bb, os.path.join(a.run, "..", "tokpath_data.pt"), cfg.tile)
    sampler = TileSampler(data, cfg.tile, a.seed + {"tok": 0, "tr": 1, "ft": 2, "mean": 3}[a.stage])
    tp, tr = TokPath(cfg), Transformer(cfg)
    ck = os.path.join(a.run, f"{a.stage}.pt")
    step, state = 0, None
    snap = os.path.join(a.run, "snapshot.pt")
    for src in (ck, snap, a.snapshot):
        if os.path.exists(src):
            state = torch.load(src, weights_only=False)
            break
    if state:
        tp.load_state_dict(state["tp"])
        if "tr" in state:
            try:
                tr.load_state_dict(state["tr"])
            except RuntimeError:  # another condition's transformer: this one starts afresh
                print("transformer: not loaded (its shapes differ)", flush=True)
    # what this stage trains
    def trained(tp, tr):
        return {"tok": tp, "tr": tr, "ft": tp.dec, "mean": torch.nn.ModuleDict(dict(tr=tr, dec=tp.dec))}[a.stage]
    train_mod = trained(tp, tr)
    for m in (tp, tr):
        for p in m.parameters():
            p.requires_grad_(False)
    for p in train_mod.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(train_mod.parameters(),
                           lr=a.lr or {"tok": 2e-3, "tr": 1e-3, "ft": 5e-4, "mean": 2e-4}[a.stage])
    base_lr = opt.param_groups[0]["lr"]
    ema = EMA(train_mod, a.ema)
    ref = None
    if state and state.get("stage") == a.stage and os.path.exists(ck):
        train_mod.load_state_dict(state["model"]); opt.load_state_dict(state["opt"]); ema.shadow = state["ema"]
        sampler.rng.bit_generator.state = state["sampler"]; step = state["step"]
        if state.get("ref") is not None:
            ref = copy.deepcopy(tr); ref.load_state_dict(state["ref"])
        print(f"resumed {a.stage} at step {step}", flush=True)
    log = Logger(os.path.join(a.run, f"{a.stage}.jsonl"))
    n_train = sum(p.numel() for p in train_mod.parameters())
    print(f"stage {a.stage}: {n_train} trainable params, {len(data)} images, cfg {cfg.to_json()}", flush=True)
    use = torch.zeros(cfg.vocab)
    t0, step0 = time.time(), step
    end = min(a.steps, a.until or a.steps)
    while step < end:
        lr = base_lr * min(1.0, (step + 1) / 200) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        b = sampler.batch(a.batch)
        tg, bbs = segs(b)
        cond = cond_of(cfg, b["feat"][..., 1:-1, 1:-1])  # the transformer's, from the tile's features
        rec = dict(step=step + 1, lr=lr)
        if a.stage == "tok":
            if step == a.warm:  # the codebook starts on the residuals it will quantize
                with torch.no_grad():
                    res = []
                    tp.quantize(tp.latents(tg, bbs), residuals=res)
                    restart_dead_codes(tp, use.zero_(), torch.cat(res))
            Zs = tp.latents(tg, bbs)
            res = []
            ids, fhats, vq = tp.quantize(Zs, want_loss=True, residuals=res, commit=a.commit)
            q = torch.rand(a.batch) < (0.0 if step < a.warm else 1 - a.bypass)
            if step < a.warm:  # continuous latents first: the decoder learns to read them
                vq = vq * 0
            # samples not in q see their continuous latents (v1's bypass): the encoder stays informative
            m = q.float().view(-1, 1, 1, 1)
            Zn = Zs if cfg.rq == "hit" else Zs * cfg.nseg
            fhats = [m * f + (1 - m) * z for f, z in zip(fhats, Zn)]
            outs = tp.decode(b["feat"], fhats, bbs)
            rec_l = [F.l1_loss(o, t) for o, t in zip(outs, tg)]
            loss = sum(rec_l) + vq
            for i in ids:
                use += torch.bincount(i.flatten(), minlength=cfg.vocab).float()
            sel = q if q.any() else ~q
            rec.update(vq=float(vq), quantized=int(q.sum()), **gains(outs, tg, bbs, sel))
        elif a.stage == "tr":
            loss, acc, logits, ids, xs = teacher_forced_ce(tr, cond, tp, tg, bbs)
            rec.update(ce=float(loss), acc=acc)
            if a.dpo_from and step >= a.dpo_from:
                if ref is None:
                    ref = copy.deepcopy(tr)
                    ref.load_state_dict(torch.load(a.ref, weights_only=False)["tr"] if a.ref else ema.shadow)
                    for p in ref.parameters():
                        p.requires_grad_(False)
                with torch.no_grad():
                    rid = lr_tokens(tp, b)
                    rxs, _ = tp.replay(rid)
                    lref_w, lref_l = seq_logp(ref(cond, xs), ids), seq_logp(ref(cond, rxs), rid)
                lw, ll = seq_logp(logits, ids), seq_logp(tr(cond, rxs), rid)
                dpo = dpo_ref_loss(lw, ll, lref_w, lref_l, a.beta)
                loss = loss + dpo
                N = logits.shape[1]
                rec.update(dpo=float(dpo), l_hr=float(lw.mean()) / N, l_lr=float(ll.mean()) / N)
        elif a.stage == "mean":
            with torch.no_grad():
                gxs, _ = tp.replay(tr.generate(tp, None, cond=cond, decode=set())[0])
            outs = tp.decode(b["feat"], tp.replay_mean(tr(cond, gxs)), bbs)
            ce, acc, *_ = teacher_forced_ce(tr, cond, tp, tg, bbs)
            loss = a.l2 * sum(F.mse_loss(o, t) for o, t in zip(outs, tg)) + a.ce * ce
            rec.update(ce=float(ce), acc=acc, **gains(outs, tg, bbs))
        else:
            with torch.no_grad():
                _, fhats = tp.replay(tr.generate(tp, None, cond=cond, decode=set())[0])
            outs = tp.decode(b["feat"], fhats, bbs)
            loss = sum(F.mse_loss(o, t) for o, t in zip(outs, tg))
            rec.update(**gains(outs, tg, bbs))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        ema.update(train_mod, min(a.ema, (1 + step) / (10 + step)))
        if a.stage == "tok" and step >= a.warm and (step - a.warm) % (20 if step < a.warm + 300 else 100) == 0:
            rec["dead"] = int((use == 0).sum())
            restart_dead_codes(tp, use, torch.cat(res))
            use.zero_()
        rec.update(loss=float(loss), sps=round((step - step0) / (time.time() - t0), 3))
        if step % 20 == 0:
            log.log(**rec)
            if step % 100 == 0:
                print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rec.items()}, flush=True)
        done = step == end or (a.max_minutes and time.time() - t0 > a.max_minutes * 60)
        if step % 200 == 0 or done:
            save_atomic(dict(stage=a.stage, model=train_mod.state_dict(), opt=opt.state_dict(), ema=ema.shadow,
                             step=step, sampler=sampler.rng.bit_generator.state, tp=tp.state_dict(),
                             tr=tr.state_dict(), ref=ref.state_dict() if ref is not None else None), ck)
            # the snapshot: every module at its EMA weights, for the next stage and for export
            snap_tp, snap_tr = copy.deepcopy(tp), copy.deepcopy(tr)
            trained(snap_tp, snap_tr).load_state_dict(ema.shadow)
            save_atomic(dict(tp=snap_tp.state_dict(), tr=snap_tr.state_dict(), cfg=cfg.to_json(),
                             stage=a.stage, step=step), snap)
        if done:
            break
    print("done", step, flush=True)


@torch.no_grad()
def restart_dead_codes(tp, use, res):
    """Codes unused since the last check restart at residual vectors of this batch (all scales)."""
    dead = (use == 0).nonzero().flatten()
    if len(dead) == 0:
        return
    pick = res[torch.randint(0, len(res), (len(dead),))]
    tp.quant.embedding[dead] = pick + 0.01 * torch.randn_like(pick)


if __name__ == "__main__":
    main()
