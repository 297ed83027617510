#!/bin/sh
# One command that reproduces the shipped model (models/hitsr-tiny.safetensors), the golden files,
# the evaluation tables and the loss-curve PNG. Every stage is resumable: re-run after an interruption.
#   sh train/reproduce.sh            (from the repository root; CPU, 1 thread by default)
set -e
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=1
mkdir -p train/runs
TOK_STEPS=${TOK_STEPS:-1200}
TR_STEPS=${TR_STEPS:-1000}
$PY train/train_tokenizer.py --run train/runs/tok --steps "$TOK_STEPS" 2>&1 | tee -a train/runs/tok.out
$PY train/eval_all.py --tok ceiling=train/runs/tok --sets Set5,Set14 --out train/runs/eval_ceiling.json
$PY train/train_transformer.py --tok train/runs/tok --run train/runs/tr --crops 6144 --steps "$TR_STEPS" 2>&1 | tee -a train/runs/tr.out
sh train/finalize.sh
