"""Train the next-scale transformer on frozen HIT tokens (CE + DPO). Resumable.

  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 train/train_transformer.py \
      --tok train/runs/tok --run train/runs/tr --steps 1000
Stage 1 tokenizes N random crops (cached in <run>/tokens_*.pt shards, resumable); stage 2 trains.
Re-running the same command resumes from <run>/ckpt.pt.
"""
import argparse
import glob
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch

from hitsr.ckpt import load_tokenizer
from hitsr.data import CropSampler, bicubic_up, load_train, make_lr
from hitsr.losses import ce_loss, dpo_loss, token_logp
from hitsr.transformer import Transformer
from hitsr.util import EMA, Logger, save_atomic, setup_threads


@torch.no_grad()
def build_tokens(tok, cfg, run, n_crops, seed, shard=256, log=print):
    sampler = CropSampler(load_train(), cfg.tile * 4, seed=seed)
    os.makedirs(run, exist_ok=True)
    nsh = (n_crops + shard - 1) // shard
    t0 = time.time()
    for i in range(nsh):
        p = os.path.join(run, f"tokens_{i:03d}.pt")
        hr = sampler.batch(shard)  # always draw, so shards are deterministic when resuming
        if os.path.exists(p):
            continue
        lr = make_lr(hr, 4)
        c = tok.cond_latent(lr)
        ihr = torch.cat(tok.encode(hr), 1)
        ilr = torch.cat(tok.encode(bicubic_up(lr, hr.shape[-1])), 1)
        save_atomic(dict(c=c.half(), hr=ihr.short(), lr=ilr.short()), p)
        log(f"tokens shard {i + 1}/{nsh} {time.time() - t0:.0f}s")
    sh = [torch.load(os.path.join(run, f"tokens_{i:03d}.pt")) for i in range(nsh)]
    return {k: torch.cat([s[k] for s in sh], 0) for k in ("c", "hr", "lr")}


def split(idx, cfg):
    out, o = [], 0
    for p in cfg.scales:
        out.append(idx[:, o:o + p * p])
        o += p * p
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tok", default="train/runs/tok")
    ap.add_argument("--run", default="train/runs/tr")
    ap.add_argument("--crops", type=int, default=8192)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--beta", type=float, default=0.2)
    ap.add_argument("--no-dpo", action="store_true")
    ap.add_argument("--ema", type=float, default=0.99)
    ap.add_argument("--ckpt-every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-minutes", type=float, default=0)
    ap.add_argument("--until", type=int, default=0, help="stop (with a checkpoint) at this step; the schedule still spans --steps")
    a = ap.parse_args()
    nth = setup_threads()
    os.makedirs(a.run, exist_ok=True)
    log = Logger(os.path.join(a.run, "log.jsonl"))
    cfg, tok = load_tokenizer(a.tok)
    data = build_tokens(tok, cfg, a.run, a.crops, a.seed + 1000, log=lambda s: print(s, flush=True))
    N = data["hr"].shape[0]
    torch.manual_seed(a.seed)
    tr = Transformer(cfg)
    decay, no_decay = [], []
    for n, p in tr.named_parameters():
        (decay if p.dim() >= 2 and n not in ("pos", "lvl") else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    ema = EMA(tr, a.ema)
    g = torch.Generator().manual_seed(a.seed)
    step = 0
    ck = os.path.join(a.run, "ckpt.pt")
    if os.path.exists(ck):
        s = torch.load(ck)
        tr.load_state_dict(s["model"]); opt.load_state_dict(s["opt"]); ema.shadow = s["ema"]
        g.set_state(s["gen"]); step = s["step"]
        print(f"resumed at step {step}", flush=True)
    print(f"threads={nth} transformer params={sum(p.numel() for p in tr.parameters())/1e6:.3f}M N={N}", flush=True)
    t0, step0 = time.time(), step
    while step < a.steps and not (a.until and step >= a.until):
        warm = min(1.0, (step + 1) / 50)
        lr = a.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for pg in opt.param_groups:
            pg["lr"] = lr
        b = torch.randint(N, (a.batch,), generator=g)
        c = data["c"][b].float()
        ihr, ilr = data["hr"][b].long(), data["lr"][b].long()
        with torch.no_grad():
            xs_hr = tok.replay(split(ihr, cfg))[0]
            xs_lr = tok.replay(split(ilr, cfg))[0] if not a.no_dpo else None
        if a.no_dpo:
            logits = tr(c, xs_hr)
            ce = ce_loss(logits, ihr)
            dpo = torch.zeros(())
            lw = ll = token_logp(logits, ihr).mean(1)
        else:
            logits = tr(torch.cat([c, c]), [torch.cat([x, y]) for x, y in zip(xs_hr, xs_lr)])
            lh, lo = logits[:a.batch], logits[a.batch:]
            ce = ce_loss(lh, ihr)
            lw, ll = token_logp(lh, ihr).mean(1), token_logp(lo, ilr).mean(1)
            dpo = dpo_loss(lw, ll, a.beta)
        loss = ce + dpo
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tr.parameters(), 1.0)
        opt.step()
        step += 1
        ema.update(tr, min(a.ema, (1 + step) / (10 + step)))
        if step % 10 == 0 or step == a.steps:
            with torch.no_grad():
                acc = (lh if not a.no_dpo else logits).argmax(-1).eq(ihr).float().mean()
            rec = dict(step=step, lr=lr, loss=float(loss), ce=float(ce), dpo=float(dpo), acc=float(acc),
                       ell_hr=float(lw.mean()), ell_lr=float(ll.mean()), sps=round((step - step0) / (time.time() - t0), 3))
            log.log(**rec)
            print(rec, flush=True)
        done = step == a.steps or step == a.until or (a.max_minutes and time.time() - t0 > a.max_minutes * 60)
        if step % a.ckpt_every == 0 or done:
            save_atomic(dict(model=tr.state_dict(), opt=opt.state_dict(), ema=ema.shadow, gen=g.get_state(),
                             step=step, args=vars(a)), ck)
            save_atomic(dict(ema=ema.shadow, cfg=cfg.to_json(), step=step), os.path.join(a.run, "tr_ema.pt"))
        if done:
            break
    print("done", step, flush=True)


if __name__ == "__main__":
    main()
