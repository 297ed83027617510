#!/bin/sh
# Export + golden files + model evaluation + curves + tests, from the current train/runs/{tok,tr} EMA weights.
#   sh train/finalize.sh   (repo root)
set -e
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=1
$PY train/export_model.py --tok train/runs/tok --tr train/runs/tr --out models/hitsr-tiny.safetensors
$PY train/make_golden.py --model models/hitsr-tiny.safetensors --out testdata/golden
$PY train/plot_curves.py --out docs/training-curves.png
$PY -m unittest discover -s train/tests
$PY train/flops.py --model models/hitsr-tiny.safetensors
$PY train/eval_all.py --model model=models/hitsr-tiny.safetensors --no-bicubic --sets Set5,Set14 --out train/runs/eval_model.json
