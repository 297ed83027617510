"""Train the HIT tokenizer (conv VQ-AE, shared codebook, nested segments). Resumable.

  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 train/train_tokenizer.py --run train/runs/tok --steps 1500
Re-running the same command resumes from <run>/ckpt.pt.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import math

import torch
import torch.nn.functional as F

from hitsr.config import Config
from hitsr.data import CropSampler, bicubic_up, load_train, make_lr
from hitsr.losses import grad_l1
from hitsr.tokenizer import Tokenizer
from hitsr.util import EMA, Logger, save_atomic, setup_threads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="train/runs/tok")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--dec-lr-mult", type=float, default=1.0, help="lr multiplier of the decoder")
    ap.add_argument("--lambda-g", type=float, default=0.5)
    ap.add_argument("--pix-loss", default="l2", choices=["l1", "l2"],
                    help="l1: L1(pixels)+lambda_g*L1(grad) (issue text); l2: the same with squared errors "
                         "(a residual over bicubic under L1 converges to the conditional median = 0, i.e. bicubic)")
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--rq", default="hit", choices=["hit", "plain"])
    ap.add_argument("--fidelity", default="cond", choices=["cond", "pure"])
    ap.add_argument("--restart-every", type=int, default=100)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-init", type=float, default=0.003,
                    help="cond decoder: conv_out init = default x this (0: exact zero-init, starts at bicubic)")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (with checkpoint) after this wall time")
    a = ap.parse_args()
    nth = setup_threads()
    os.makedirs(a.run, exist_ok=True)
    ck = os.path.join(a.run, "ckpt.pt")
    torch.manual_seed(a.seed)
    cfg = Config(rq=a.rq, fidelity=a.fidelity)
    tok = Tokenizer(cfg)
    if cfg.fidelity == "cond":
        tok.dec.init_out(a.out_init)
    dec_params = [p for n, p in tok.named_parameters() if n.startswith("dec.")]
    oth_params = [p for n, p in tok.named_parameters() if not n.startswith("dec.")]
    opt = torch.optim.AdamW([{"params": oth_params, "lr_mult": 1.0},
                             {"params": dec_params, "lr_mult": a.dec_lr_mult}], lr=a.lr, betas=(0.9, 0.95),
                            weight_decay=0.0)
    sampler = CropSampler(load_train(), cfg.tile * 2 ** (cfg.nseg - 1), seed=a.seed)
    ema = EMA(tok, a.ema)
    step, usage = 0, torch.zeros(cfg.vocab)
    if os.path.exists(ck):
        s = torch.load(ck)
        tok.load_state_dict(s["model"]); opt.load_state_dict(s["opt"]); ema.shadow = s["ema"]
        sampler.set_state(s["sampler"]); torch.set_rng_state(s["torch_rng"]); step = s["step"]
        usage = s["usage"]
        print(f"resumed at step {step}", flush=True)
    log = Logger(os.path.join(a.run, "log.jsonl"))
    print(f"threads={nth} params={sum(p.numel() for p in tok.parameters())/1e6:.3f}M cfg={cfg.to_json()}", flush=True)
    t0 = time.time()
    step0 = step
    while step < a.steps:
        warm = min(1.0, (step + 1) / 50)
        lr = a.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_mult"]
        hr = sampler.batch(a.batch)
        lr_img = make_lr(hr, 2 ** (cfg.nseg - 1))
        bypass = torch.rand(a.batch) < 0.5
        outs, vq, idxs, res, seg_imgs = tok.forward_train(hr, lr_img, bypass)
        l1s, gs = [], []
        for n, o in enumerate(outs):
            if a.pix_loss == "l1":
                l1s.append(F.l1_loss(o, seg_imgs[n]))
                gs.append(grad_l1(o, seg_imgs[n]))
            else:
                l1s.append(F.mse_loss(o, seg_imgs[n]))
                gs.append(grad_l1(o, seg_imgs[n], sq=True))
        rec = sum(l1s) + a.lambda_g * sum(gs)
        loss = rec + vq
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tok.parameters(), 1.0)
        opt.step()
        step += 1
        ema.update(tok, min(a.ema, (1 + step) / (10 + step)))
        with torch.no_grad():
            for idx in idxs:
                usage += torch.bincount(idx.flatten(), minlength=cfg.vocab).float()
            if a.restart_every and (step % a.restart_every == 0 or step == 20):
                dead = (usage == 0).nonzero().flatten()
                if len(dead):
                    pool = torch.cat([r.permute(0, 2, 3, 1).reshape(-1, cfg.z) for r in res], 0)
                    pick = pool[torch.randint(len(pool), (len(dead),))]
                    tok.quant.embedding.data[dead] = pick + 1e-3 * torch.randn_like(pick)
                    ema.shadow["quant.embedding"][dead] = tok.quant.embedding.data[dead]
                used = int((usage > 0).sum())
                usage.zero_()
                log.log(step=step, event="restart", dead=len(dead), used=used)
        if step % 10 == 0 or step == a.steps:
            el = time.time() - t0
            rec_ = dict(step=step, lr=lr, loss=float(loss), vq=float(vq), l1=[round(float(x), 7) for x in l1s],
                        grad=[round(float(x), 5) for x in gs],
                        l1_bic=[round(float((F.l1_loss if a.pix_loss == "l1" else F.mse_loss)(bicubic_up(lr_img, x.shape[-1]), x)), 7)
                                for x in seg_imgs],
                        sps=round((step - step0) / el, 3))
            log.log(**rec_)
            print(rec_, flush=True)
        done = step == a.steps or (a.max_minutes and time.time() - t0 > a.max_minutes * 60)
        if step % a.ckpt_every == 0 or done:
            save_atomic(dict(model=tok.state_dict(), opt=opt.state_dict(), ema=ema.shadow, step=step,
                             sampler=sampler.get_state(), torch_rng=torch.get_rng_state(), usage=usage,
                             cfg=cfg.to_json(), args=vars(a)), ck)
            save_atomic(dict(ema=ema.shadow, cfg=cfg.to_json(), step=step), os.path.join(a.run, "tok_ema.pt"))
        if done:
            break
    print("done", step, flush=True)


if __name__ == "__main__":
    main()
