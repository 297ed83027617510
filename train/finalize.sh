#!/bin/sh
# Export + golden files + model evaluation + curves + tests, from the EMA weights of the tokenizer
# run $TOK and transformer run $TR (default train/runs/tok_plain, train/runs/tr_plain: the shipped arm).
#   sh train/finalize.sh   (repo root)
set -e
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=1
TOK=${TOK:-train/runs/tok_plain} TR=${TR:-train/runs/tr_plain}
$PY train/export_model.py --tok "$TOK" --tr "$TR" --out models/hitsr-tiny.safetensors
$PY train/make_golden.py --model models/hitsr-tiny.safetensors --out testdata/golden
$PY train/plot_curves.py --tok "$TOK/log.jsonl" --tr "$TR/log.jsonl" --out docs/training-curves.png
$PY -m unittest discover -s train/tests
$PY train/flops.py --model models/hitsr-tiny.safetensors
$PY train/eval_all.py --model model=models/hitsr-tiny.safetensors --no-bicubic --sets Set5,Set14 --out train/runs/eval_model.json
