"""Loss curves PNG (matplotlib, Debian's python3-matplotlib).

  /usr/bin/python3 train/plot_curves.py --tok train/runs/tok_plain/log.jsonl \
      --tr train/runs/tr_plain/log.jsonl --out docs/training-curves.png
Left: tokenizer training (HIT or plain RQ), gain over bicubic on the training batches in dB
(10 log10(MSE_bicubic / MSE_model)) for x2 and x4 (half the batch bypasses the quantizer).
Right: transformer cross-entropy and DPO loss per step. Curves are moving averages.
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_log(p):
    if not os.path.exists(p):
        return []
    return [json.loads(l) for l in open(p) if l.strip() and "event" not in l]


def smooth(y, k=9):
    y = np.asarray(y, dtype=float)
    if len(y) < k:
        return y
    return np.concatenate([y[:k - 1], np.convolve(y, np.ones(k) / k, mode="valid")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tok", default="train/runs/tok/log.jsonl")
    ap.add_argument("--tr", default="train/runs/tr/log.jsonl")
    ap.add_argument("--out", default="docs/training-curves.png")
    a = ap.parse_args()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    t = read_log(a.tok)
    if t:
        st = [r["step"] for r in t]
        for n, name in ((1, "×2"), (2, "×4")):
            ax1.plot(st, smooth([10 * np.log10(r["l1_bic"][n] / r["l1"][n]) for r in t]), label=name)
        ax1.axhline(0, color="gray", lw=0.8, ls="--", label="bicubic")
    ax1.set(title="tokenizer: reconstruction vs bicubic", xlabel="training step",
            ylabel="gain over bicubic (dB, training batches)")
    ax1.legend()
    r = read_log(a.tr)
    if r:
        st = [x["step"] for x in r]
        ax2.plot(st, smooth([x["ce"] for x in r]), color="k", label="cross-entropy (nats/token)")
        ax2.plot(st, smooth([x["dpo"] for x in r]), color="tab:red", label="DPO loss")
    ax2.set(title="next-scale transformer", xlabel="training step", ylabel="loss")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.out)
    print(a.out)


if __name__ == "__main__":
    main()
