#!/bin/sh
# Set5 / Set14 PSNR-Y of a backbone run's snapshots (<run>/snaps/*.pt, copied while it trains) with the
# Go evaluator: one CSV per snapshot and set in <run>/evals/, read by plot_backbone.py.
#   sh train/eval_snapshots.sh [RUN] [SETS]     (repo root; RUN default train/runs/bb, SETS "Set5 Set14")
set -e
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
RUN=${1:-train/runs/bb} SETS=${2:-"Set5 Set14"} DATA=${HITSR_DATA:-/work/shared/data}
mkdir -p "$RUN/evals"
go build -o "$RUN/evals/hitsr-video" ./cmd/hitsr-video
for snap in "$RUN"/snaps/*.pt "$RUN/snapshot.pt"; do
	[ -f "$snap" ] || continue
	step=$($PY -c "import torch,sys; print(torch.load(sys.argv[1], weights_only=False)['step'])" "$snap")
	$PY train/export_backbone.py --run "$snap" --out "$RUN/evals/model.safetensors" >/dev/null
	for set in $SETS; do
		out="$RUN/evals/$set-$step.csv"
		[ -f "$out" ] || "$RUN/evals/hitsr-video" eval "$DATA/$set/HR" --model "$RUN/evals/model.safetensors" \
			--device cpu --mode fidelity --csv "$out" >/dev/null
	done
done
