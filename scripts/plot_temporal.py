#!/usr/bin/env python3
"""Per-frame PSNR-Y and flicker of one clip from BenchmarkTemporalReuse's CSV (hitsr/temporal_bench_test.go).

usage: plot_temporal.py CSV CLIP SCALE OUT.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    path, clip, scale, out = sys.argv[1:5]
    series = {}  # method → (frames, psnr, flicker)
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["clip"] != clip or r["scale"] != scale:
                continue
            fr, ps, fl = series.setdefault(r["method"], ([], [], []))
            fr.append(int(r["frame"]))
            ps.append(float(r["psnr_y"]))
            fl.append(float(r["flicker"]))
    if not series:
        sys.exit(f"{path}: no rows for {clip} ×{scale}")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for method, (fr, ps, fl) in series.items():
        top.plot(fr, ps, label=method, lw=1.2)
        bottom.plot(fr[1:], fl[1:], label=method, lw=1.2)
    top.set_ylabel("PSNR-Y vs HR (dB)")
    bottom.set_ylabel("flicker: mean |Δout − ΔHR| on Y")
    bottom.set_xlabel("frame")
    top.set_title(f"{clip} ×{scale}: temporal token reuse and stabilisation")
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
