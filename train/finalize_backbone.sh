#!/bin/sh
# Backbone run $BB (default train/runs/bb) → its committed snapshot, the shipped model file (token
# model carried over), golden files, snapshot curves and the Go evaluation of both modes on Set5 / Set14.
#   sh train/finalize_backbone.sh   (repo root)
set -e
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=1
BB=${BB:-train/runs/bb} MODEL=models/hitsr-tiny.safetensors DATA=${HITSR_DATA:-/work/shared/data}
mkdir -p train/snapshots
cp "$BB/snapshot.pt" train/snapshots/backbone.pt
$PY train/export_backbone.py --run "$BB" --tokens $MODEL --out $MODEL
$PY train/make_backbone_golden.py --shipped $MODEL
sh train/eval_snapshots.sh "$BB"
$PY train/plot_backbone.py --run "$BB" --out docs/backbone-curves.png
# The table of docs/training.md: fidelity mode is the last snapshot's evaluation above
# ($BB/evals/Set*-<step>.csv); full mode here.
for set in Set5 Set14; do
	"$BB/evals/hitsr-video" eval "$DATA/$set/HR" --model $MODEL --device cpu --mode full --csv "$BB.eval-$set-full.csv"
done
