"""Loss curves PNG without matplotlib (numpy rasteriser + tiny PNG writer).

  /usr/bin/python3 train/plot_curves.py --out docs/training-curves.png
Panels (top to bottom): tokenizer training gain over bicubic in dB on the training batches
(10 log10(MSE_bicubic / MSE_model), x2 green, x4 blue, orange = 0 dB; half the batch bypasses the quantizer);
transformer CE (black) and DPO (red). Linear y axes, each panel auto-scaled to [min, max] of its curves;
x axis = step. Curves are moving averages.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np

from hitsr.imageio import write_png

COL = {"k": (0, 0, 0), "r": (220, 30, 30), "g": (20, 150, 40), "b": (30, 60, 220), "o": (230, 140, 0)}


def read_log(p):
    if not os.path.exists(p):
        return []
    return [json.loads(l) for l in open(p) if l.strip() and "event" not in l]


def smooth(y, k=5):
    if len(y) < k:
        return np.asarray(y, dtype=float)
    c = np.convolve(y, np.ones(k) / k, mode="valid")
    return np.concatenate([np.asarray(y[:k - 1], dtype=float), c])


def draw_line(img, xs, ys, col):
    for i in range(len(xs) - 1):
        x0, y0, x1, y1 = xs[i], ys[i], xs[i + 1], ys[i + 1]
        n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        for t in np.linspace(0, 1, n + 1):
            x, y = int(round(x0 + (x1 - x0) * t)), int(round(y0 + (y1 - y0) * t))
            img[max(y - 1, 0):y + 1, max(x - 1, 0):x + 1] = col


def panel(img, oy, H, W, series, m=20):
    img[oy + m, m:W - m] = 0
    img[oy + H - m, m:W - m] = 0
    img[oy + m:oy + H - m, m] = 0
    img[oy + m:oy + H - m, W - m] = 0
    allx = np.concatenate([s[0] for s in series if len(s[0])] or [np.zeros(1)])
    ally = np.concatenate([s[1] for s in series if len(s[1])] or [np.zeros(1)])
    x0, x1 = allx.min(), max(allx.max(), allx.min() + 1)
    y0, y1 = ally.min(), max(ally.max(), ally.min() + 1e-9)
    for xs, ys, c in series:
        if len(xs) < 2:
            continue
        px = m + (np.asarray(xs) - x0) / (x1 - x0) * (W - 2 * m)
        py = oy + H - m - (np.asarray(ys) - y0) / (y1 - y0) * (H - 2 * m)
        draw_line(img, px, py, COL[c])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tok", default="train/runs/tok/log.jsonl")
    ap.add_argument("--tr", default="train/runs/tr/log.jsonl")
    ap.add_argument("--out", default="docs/training-curves.png")
    a = ap.parse_args()
    W, H = 800, 300
    img = np.full((2 * H, W, 3), 255, dtype=np.uint8)
    t = read_log(a.tok)
    if t:
        st = np.array([r["step"] for r in t])
        # gain over bicubic on the training batches, dB = 10 log10(err_bicubic / err_model), x2 green, x4 blue
        ser = [(st, smooth([10 * np.log10(r["l1_bic"][n] / r["l1"][n]) for r in t], 9), c)
               for n, c in ((1, "g"), (2, "b"))]
        ser.append((st, np.zeros(len(st)), "o"))  # 0 dB = bicubic
        panel(img, 0, H, W, ser)
    r = read_log(a.tr)
    if r:
        st = np.array([x["step"] for x in r])
        panel(img, H, H, W, [(st, smooth([x["ce"] for x in r]), "k"), (st, smooth([x["dpo"] for x in r]), "r")])
    write_png(a.out, img)
    print(a.out)


if __name__ == "__main__":
    main()
