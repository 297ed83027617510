"""Token path curves PNG (docs/training.md, model v2): the tokenizer's PSNR gain over the backbone on
ground-truth tokens (batch tiles), the transformer's CE and token accuracy, the decoder fine-tune's gain
on the transformer's own tokens, and with --dpo a DPO run's ℓ(z_HR), ℓ(z_LR) (per-token mean
log-probabilities), CE and accuracy, and with --twin its CE-only twin's (equal budget) CE and accuracy;
--before adds another run's transformer CE and accuracy (the condition as tokens, before "embed").

  /usr/bin/python3 train/plot_tokpath.py --run train/runs/tp [--before train/runs/tp_prefix] \
      [--dpo train/runs/tp_dpo [--twin train/runs/tp_ce]] --out docs/tokpath-curves.png
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from plot_curves import smooth  # noqa: E402


def read(path):
    return [json.loads(l) for l in open(path)] if os.path.exists(path) else []


def curve(ax, log, key, label, k=25):
    pts = [(r["step"], r[key]) for r in log if key in r]
    if pts:
        ax.plot([p[0] for p in pts], smooth([p[1] for p in pts], k), label=label)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="train/runs/tp")
    ap.add_argument("--dpo", default="")
    ap.add_argument("--twin", default="")
    ap.add_argument("--before", default="")
    ap.add_argument("--out", default="docs/tokpath-curves.png")
    a = ap.parse_args()
    tok, tr, ft = (read(os.path.join(a.run, f"{s}.jsonl")) for s in ("tok", "tr", "ft"))
    dpo = read(os.path.join(a.dpo, "tr.jsonl")) if a.dpo else []
    twin = read(os.path.join(a.twin, "tr.jsonl")) if a.twin else []
    before = read(os.path.join(a.before, "tr.jsonl")) if a.before else []
    cols = 3 + bool(dpo) + bool(twin)
    fig, axs = plt.subplots(1, cols, figsize=(5 * cols, 4))
    curve(axs[0], tok, "gain4", "×4 (GT tokens)")
    curve(axs[0], tok, "gain2", "×2 (GT tokens)")
    curve(axs[0], ft, "gain4", "×4 (model tokens, ft steps)")
    curve(axs[0], ft, "gain2", "×2 (model tokens, ft steps)")
    axs[0].set(title="PSNR gain over the backbone (dB, training tiles)", xlabel="step")
    curve(axs[1], tr, "ce", "CE")
    curve(axs[1], before, "ce", "CE, condition tokens (before)")
    axs[1].set(title="transformer CE (nats)", xlabel="step")
    curve(axs[2], tr, "acc", "accuracy")
    curve(axs[2], before, "acc", "accuracy, condition tokens (before)")
    axs[2].set(title="transformer token accuracy", xlabel="step")
    if dpo:
        for key in ("l_hr", "l_lr", "ce"):
            curve(axs[3], dpo, key, {"l_hr": "ℓ(z_HR)", "l_lr": "ℓ(z_LR)", "ce": "CE"}[key])
        curve(axs[3], twin, "ce", "CE, no DPO (twin)")
        axs[3].set(title="DPO run (per-token log-prob / CE)", xlabel="step")
    if twin:
        curve(axs[4], dpo, "acc", "CE + DPO")
        curve(axs[4], twin, "acc", "CE only (twin)")
        axs[4].set(title="token accuracy from the 3000-step CE model", xlabel="step")
    for ax in axs:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(a.out, dpi=80)
    print(a.out)


if __name__ == "__main__":
    main()
