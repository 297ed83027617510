"""Build the packed backbone training set (train/hitsr/pack.py) that the GPU device check carries.

  /usr/bin/python3 train/pack_backbone.py --out .devcheck/backbone_pack.npz --mb 30      (make train-pack)

Tiles are drawn uniformly without replacement from the non-overlapping --tile grid of every
training pair (so images are chosen in proportion to their area, as the CPU sampler does) until the
packed file reaches --mb megabytes. The pairs are train_backbone.build_pairs' (cached in
train/runs/backbone_pairs.npz, made from /work/shared/data/train on first use). Set5/Set14 are
never read. --val-images images are held out of training: their full-size tiles are stored after the
training tiles (meta val_tiles), for train_backbone.py --val-tiles -1. --images N packs only the
first N training images, --synthetic N random textures (tests without the data).
"""
import argparse
import glob
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np

from hitsr import pack
from hitsr.data import DATA, TRAIN_SETS, load_train
from hitsr.imageio import read_image
from train_backbone import AUG_SCALES, build_pairs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=".devcheck/backbone_pack.npz")
    ap.add_argument("--mb", type=float, default=30, help="size of the packed file (10^6 bytes)")
    ap.add_argument("--tile", type=int, default=128, help="HR tile side (multiple of 4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pairs-cache", default="train/runs/backbone_pairs.npz")
    ap.add_argument("--val-images", type=int, default=4,
                    help="hold out this many images: their full-size tiles are stored last (meta val_tiles)")
    ap.add_argument("--images", type=int, default=0, help="only the first N training images (tests)")
    ap.add_argument("--synthetic", type=int, default=0, help="N random-texture images instead of the training data (tests)")
    a = ap.parse_args()
    assert a.tile % 4 == 0
    t0 = time.time()
    if a.synthetic:  # random textures (tests on machines without the training data)
        rng = np.random.default_rng(a.seed)
        imgs = [np.clip(np.kron(rng.integers(0, 256, (25, 25, 3)), np.ones((8, 8, 1))) + rng.normal(0, 16, (200, 200, 3)),
                        0, 255).round().astype(np.uint8) for _ in range(a.synthetic)]
        with tempfile.TemporaryDirectory() as d:
            pairs = build_pairs(imgs, os.path.join(d, "pairs.npz"))
        source = f"{a.synthetic} synthetic 200 px textures"
    elif a.images:
        files = [f for s in TRAIN_SETS for f in sorted(glob.glob(os.path.join(DATA, s, "*.png")))]
        imgs = [read_image(f) for f in files[:a.images]]
        with tempfile.TemporaryDirectory() as d:
            pairs = build_pairs(imgs, os.path.join(d, "pairs.npz"))
        source = f"first {len(imgs)} images of {'+'.join(TRAIN_SETS)}"
    else:
        pairs = build_pairs(None if os.path.exists(a.pairs_cache) else load_train(), a.pairs_cache)
        source = "+".join(TRAIN_SETS)
    na = len(AUG_SCALES)  # build_pairs: pair i is image i // na at AUG_SCALES[i % na]
    where = [(i, y, x) for i, p in enumerate(pairs) for y, x in pack.tile_grid(*p["hr"].shape[:2], a.tile)]
    total_px = sum(p["hr"].shape[0] * p["hr"].shape[1] for p in pairs)
    rng = np.random.default_rng(a.seed)
    # Held-out images: their full-size tiles go last (train_backbone --val-tiles), none trains.
    with_tiles = sorted({i // na for i, _, _ in where if i % na == 0})
    val_imgs = set(rng.choice(with_tiles, min(a.val_images, max(len(with_tiles) - 1, 0)), replace=False).tolist())
    val = [w for w in where if w[0] // na in val_imgs and w[0] % na == 0]
    cand = [w for w in where if w[0] // na not in val_imgs]
    order = [cand[j] for j in rng.permutation(len(cand))]
    print(f"{len(pairs)} pairs ({total_px / 1e6:.1f} HR Mpx), {len(order)} tiles of {a.tile} px, "
          f"{len(val)} held-out tiles of images {sorted(val_imgs)} ({time.time() - t0:.0f} s)", flush=True)
    budget = a.mb * 1e6 - 4096
    probe = order[:min(64, len(order))]
    per_tile = sum(len(b) for b in pack.encode(pack.cut(pairs, probe, a.tile)).values()) / len(probe)
    k = min(len(order), int(budget / per_tile * 0.98) - len(val))
    while True:
        blobs = pack.encode(pack.cut(pairs, order[:k] + val, a.tile))
        size = sum(len(b) for b in blobs.values())
        print(f"{k} tiles: {size / 1e6:.2f} MB ({time.time() - t0:.0f} s)", flush=True)
        if size <= budget or k <= 1:
            break
        k = max(1, int((k + len(val)) * budget / size * 0.99) - len(val))
    meta = dict(tiles=k + len(val), train_tiles=k, val_tiles=len(val), val_images=sorted(val_imgs), tile=a.tile, seed=a.seed, source=source, aug_scales=list(AUG_SCALES),
                pairs=len(pairs), candidates=len(order), hr_mpx=round(k * a.tile ** 2 / 1e6, 3),  # training tiles
                hr_mpx_all=round(total_px / 1e6, 3),
                protocol="hitsr/protocol.py degrade: antialiased bicubic a=-0.5, 8-bit LR; lr4f before rounding")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    pack.save(a.out, blobs, meta)
    print(f"{a.out}: {os.path.getsize(a.out) / 1e6:.2f} MB, {k} of {len(order)} tiles + {len(val)} held out "
          f"({meta['hr_mpx']} of {meta['hr_mpx_all']} HR Mpx), {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
