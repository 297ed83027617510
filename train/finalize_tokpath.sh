#!/bin/sh
# Token path run $TP (default train/runs/tp) → its committed snapshot, the shipped model file (backbone +
# token path, docs/model.md §10), golden files, curves and the Go evaluation of both modes on Set5 / Set14.
#   sh train/finalize_tokpath.sh   (repo root)
set -e
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=1
TP=${TP:-train/runs/tp} MODEL=models/hitsr-tiny.safetensors DATA=${HITSR_DATA:-/work/shared/data}
mkdir -p train/snapshots
cp "$TP/snapshot.pt" train/snapshots/tokpath.pt
$PY train/export_v2.py --tokpath "$TP/snapshot.pt" --out $MODEL
$PY train/make_v2_golden.py --shipped $MODEL
# the comparison runs of docs/training.md, where this machine has them
CMP=""
for f in before=tp_prefix dpo=tp_dpo twin=tp_ce; do
	[ -f "train/runs/${f#*=}/tr.jsonl" ] && CMP="$CMP --${f%%=*} train/runs/${f#*=}"
done
$PY train/plot_tokpath.py --run "$TP" $CMP --out docs/tokpath-curves.png
go build -o "$TP/hitsr-video" ./cmd/hitsr-video
for set in Set5 Set14; do
	for mode in fidelity full; do
		"$TP/hitsr-video" eval "$DATA/$set/HR" --model $MODEL --device cpu --mode $mode --csv "$TP.eval-$set-$mode.csv"
	done
done
