#!/bin/bash
# GPU device check (issue 17; docs/training.md, "GPU device check"): one command, at most
# DEVICE_CHECK_SECONDS (540) in all, on the lent NVIDIA machine (no Go, no network there):
#   setup  (box  60 s)  GPU facts; unpack the carried binaries; bring up Vulkan from the carried
#                       loader packages (.gl/*.deb, dpkg -x /; VK_DRIVER_FILES fallback)
#   bench  (box 170 s)  hitsr-bench (GEMM / conv2d / dispatch table, every backend), then devbench on
#                       the GPU's Vulkan device: GEMM 1024³/4096³, conv 3×3 64→64 256²/1024², the
#                       shipped model 1920×1080 → ×2 + ×4 in fidelity and full mode with its FLOPs
#   ops    (box 150 s)  the op suite (prebuilt go test binaries of ./ml/...) on every backend, the
#                       GPU's Vulkan device included; runs beside train
#   train  (rest)       PyTorch on CUDA: the fidelity backbone from the committed snapshot, crops from
#                       the carried pack, bf16 autocast, batch 256, cosine over the wall time left
#   and writes to $OUT (8 files at most): summary.json, check.log, bench.log, ops.log, train.log,
#   run/snapshot.pt, run/ckpt.pt, run/log.jsonl (summary.json is rewritten after every stage).
# Each stage runs under timeout, so a failure or hang in one still leaves the others' results.
#
#   bash scripts/device-check.sh                          # on the device (OUT set by the tool):
#       run(command="bash scripts/device-check.sh", carry=[".gl", ".devcheck"], timeout_s=600)
#   DRY_RUN=1 OUT=/tmp/out bash scripts/device-check.sh   # here: lavapipe + CPU torch, ~50 s
# Needs: .devcheck/ and .gl/ from scripts/device-prep.sh (make device-check).
# Environment: DEVCHECK_DIR, GL_DIR, DEVICE_CHECK_SECONDS, PY (a python3 with torch), TRAIN_BATCH,
# TRAIN_LR, TRAIN_ARGS (more train_backbone.py options), DRY_OPS (dry run: -test.run pattern).
set -u
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."
ROOT=$PWD

# ---- stage bodies (run as: device-check.sh __stage NAME, under timeout) ----
st_setup() {
	echo "== machine"
	uname -a; nproc; free -g 2>/dev/null | head -2
	if command -v nvidia-smi >/dev/null; then
		nvidia-smi -L
		nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader | tee "$WORK/gpu.csv"
	else
		echo "no nvidia-smi"
	fi
	[ "$DRY" = 1 ] || "$PY" -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1
	echo "== carried binaries ($DC)"
	mkdir -p "$WORK/x"
	if [ -f "$DC/devcheck.tar.xz" ] && command -v xz >/dev/null; then
		xz -dc "$DC/devcheck.tar.xz" | tar -C "$WORK/x" -xf - || exit 1
	elif [ -f "$DC/devcheck.tar.xz" ]; then  # no xz there: python's lzma
		"$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' \
			"$DC/devcheck.tar.xz" | tar -C "$WORK/x" -xf - || exit 1
	elif [ -f "$DC/devcheck.tar" ]; then
		tar -C "$WORK/x" -xf "$DC/devcheck.tar" || exit 1
	else
		echo "no $DC/devcheck.tar.xz: run scripts/device-prep.sh (make device-check) and carry $DC"; exit 1
	fi
	ls -l "$WORK/x/bin" "$WORK/x/lib"; cat "$WORK/x/bin/COMMIT" 2>/dev/null
	echo "== Vulkan loader"
	if [ "$DRY" = 1 ] && ls "$GL"/*.deb >/dev/null 2>&1; then  # never touch / here: unpack beside
		for f in "$GL"/*.deb; do dpkg -x "$f" "$WORK/glroot" || exit 1; done
		ls "$WORK"/glroot/usr/lib/x86_64-linux-gnu/libvulkan.so.1 || exit 1
		echo "dry run: unpacked $(ls "$GL"/*.deb | wc -l) packages into $WORK/glroot, not /"
	fi
	if ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
		echo "libvulkan.so.1 present"
	elif [ "$DRY" != 1 ] && ls "$GL"/*.deb >/dev/null 2>&1; then
		for f in "$GL"/*.deb; do dpkg -x "$f" / && echo "unpacked $f"; done
		ldconfig
		ldconfig -p | grep libvulkan
	else
		echo "no libvulkan.so.1 and no $GL/*.deb (carry $GL)"
	fi
	local bin=$WORK/x/bin lib=$WORK/x/lib rc
	echo "== Vulkan devices"
	LD_LIBRARY_PATH=$lib "$bin/devbench" -list -json "$WORK/devices.json"
	rc=$?
	local vkenv=""
	if [ $rc -ne 0 ] && [ "$DRY" != 1 ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
		echo "no GPU device (rc $rc): retrying with VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json"
		vkenv="VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json"
		env $vkenv LD_LIBRARY_PATH=$lib "$bin/devbench" -list -json "$WORK/devices.json"
		rc=$?
	fi
	{
		echo "BIN=$bin"
		echo "GOLIB=$lib"
		for v in $vkenv; do echo "export $v"; done
		echo "GPU_VULKAN=$([ $rc -eq 0 ] && echo 1 || echo 0)"
	} >"$WORK/env.sh"
	if [ $rc -eq 0 ]; then echo "Vulkan GPU device found"; elif [ "$DRY" = 1 ]; then echo "dry run: no GPU (lavapipe only), as expected"; else echo "NO Vulkan GPU device"; exit 2; fi
}

st_bench() {
	. "$WORK/env.sh"
	local q="" a="-gemm 1024,4096 -conv 256,1024 -size 1920x1080 -seconds 10" dev=vulkan hb=70
	if [ "$DRY" = 1 ]; then q=-quick; a="-gemm 64 -conv 16 -size 16x16 -seconds 2"; dev=vulkan:0; hb=15; fi
	echo "== hitsr-bench $q (box ${hb}s)"
	LD_LIBRARY_PATH=$GOLIB timeout -k 5 $hb "$BIN/hitsr-bench" $q
	echo "hitsr-bench rc $?"
	echo "== devbench -device $dev -core $a"
	LD_LIBRARY_PATH=$GOLIB "$BIN/devbench" -device $dev -core $a -json "$WORK/devbench.json"
}

st_ops() {
	. "$WORK/env.sh"
	local run=() pids=() names=()
	[ "$DRY" = 1 ] && run=(-test.run "${DRY_OPS:-TestBackendsOpen|TestAddScale|TestOpen|TestSgemmBinding}")
	while read -r bin dir; do
		[ -n "$bin" ] || continue
		(cd "$ROOT/$dir" && LD_LIBRARY_PATH=$GOLIB "$BIN/$bin" -test.v -test.timeout "$((BOX - 5))s" "${run[@]}" \
			>"$WORK/logs/ops-$bin.log" 2>&1; echo "exit $?" >>"$WORK/logs/ops-$bin.log") &
		pids+=($!); names+=("$bin")
	done <"$BIN/MANIFEST"
	local fails=0 i
	for i in "${!pids[@]}"; do wait "${pids[$i]}"; done
	for i in "${!names[@]}"; do
		echo "===== ${names[$i]} ($(grep -m1 -F "${names[$i]} " "$BIN/MANIFEST" | cut -d' ' -f2))"
		cat "$WORK/logs/ops-${names[$i]}.log"
		tail -1 "$WORK/logs/ops-${names[$i]}.log" | grep -qx 'exit 0' || fails=$((fails + 1))
	done
	echo "binaries failed: $fails of ${#names[@]}"
	[ $fails -eq 0 ]
}

st_train() {
	# real run: the cosine ends 30 s before T_END (final validation, save, summary); dry run: 3 s of steps
	# from the committed snapshot (train_backbone.py's default --snapshot) a warm restart at half the
	# CPU recipe's peak lr; without one, from scratch at its peak
	local dev=cuda amp=bf16 batch=${TRAIN_BATCH:-256} lr=${TRAIN_LR:-5e-4} warm=100 ck=30 budget="--deadline $((T_END - 30))"
	[ -f train/snapshots/backbone.pt ] || { lr=${TRAIN_LR:-1e-3}; warm=300; }
	if [ "$DRY" = 1 ]; then dev=cpu; batch=${TRAIN_BATCH:-2}; ck=2; budget="--minutes 0.05"; fi
	[ -f "$DC/backbone_pack.npz" ] || { echo "no $DC/backbone_pack.npz (make train-pack)"; exit 1; }
	export PYTHONUNBUFFERED=1
	"$PY" train/train_backbone.py --run "$WORK/run" --device $dev --amp $amp --pack "$DC/backbone_pack.npz" \
		--val-tiles -1 --batch "$batch" --lr "$lr" --warmup $warm --l2-frac 0.7 $budget \
		--ckpt-seconds $ck --summary "$WORK/train.json" ${TRAIN_ARGS:-}
}

if [ "${1:-}" = __stage ]; then  # a stage, started by stage() with the run's variables exported
	"st_$2"
	exit $?
fi

# ---- the run ----
: "${OUT:?set OUT to the results folder}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DRY=${DRY_RUN:-0}
if [ "$DRY" = 1 ]; then TOTAL=${DEVICE_CHECK_SECONDS:-90}; else TOTAL=${DEVICE_CHECK_SECONDS:-540}; fi
T0=$(date +%s)
T_END=$((T0 + TOTAL))
DC=$(cd "${DEVCHECK_DIR:-.devcheck}" 2>/dev/null && pwd || echo "$ROOT/${DEVCHECK_DIR:-.devcheck}")
GL=${GL_DIR:-.gl}
WORK=${DEVCHECK_WORK:-$(mktemp -d /tmp/devcheck.XXXXXX)}
mkdir -p "$WORK/logs" "$WORK/run"
if [ -z "${PY:-}" ]; then  # the python3 that has torch (find_spec: no import, fast)
	for p in python3 /usr/bin/python3; do
		if "$p" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' 2>/dev/null; then PY=$p; break; fi
	done
fi
PY=${PY:-python3}
RESERVE=${RESERVE:-$([ "$DRY" = 1 ] && echo 4 || echo 15)}
export ROOT OUT DRY TOTAL T0 T_END DC GL WORK PY RESERVE
STAGES=$WORK/stages.tsv

say() { echo "[device-check +$(($(date +%s) - T0))s] $*" | tee -a "$WORK/logs/check.log"; }

# stage NAME BOX: runs this script's stage NAME under timeout (box cut to the time left before
# T_END minus the reserve for writing results), its output in logs/NAME.log; one line in stages.tsv.
stage() {
	local name=$1 box=$2 left start rc status
	left=$((T_END - RESERVE - $(date +%s)))
	[ "$box" -gt "$left" ] && box=$left
	if [ "$box" -le 0 ]; then
		printf '%s\tskipped\t-\t0\t0\n' "$name" >>"$STAGES"
		say "$name: skipped (no time left)"
		return
	fi
	say "$name: start (box ${box}s)"
	start=$(date +%s)
	BOX=$box timeout -k 10 "$box" bash "$SELF" __stage "$name" >"$WORK/logs/$name.log" 2>&1
	rc=$?
	case $rc in 0) status=ok ;; 124 | 137) status=timeout ;; *) status=failed ;; esac
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$(($(date +%s) - start))" "$box" >>"$STAGES"
	say "$name: $status (rc $rc, $(($(date +%s) - start)) s)"
}

summarize() { "$PY" scripts/devcheck_summary.py "$WORK" "$OUT" >>"$WORK/logs/check.log" 2>&1 || say "summary failed"; }

say "start: $(date -u +%FT%TZ), budget ${TOTAL}s, dry run ${DRY}, work $WORK, python $PY"
: >"$STAGES"
stage setup $([ "$DRY" = 1 ] && echo 20 || echo 60)
summarize
stage bench $([ "$DRY" = 1 ] && echo 35 || echo 170)
summarize
stage ops $([ "$DRY" = 1 ] && echo 30 || echo 150) &
ops_pid=$!
stage train $((T_END - $(date +%s)))
wait $ops_pid
summarize
say "done: $(grep -c . "$STAGES") stages, $(cut -f2 "$STAGES" | grep -c '^ok$') ok; results in $OUT"
summarize
cut -f1,2,4 "$STAGES" | tr '\t' ' '
notok=$(cut -f2 "$STAGES" | grep -vc '^ok$')
[ -n "${DEVCHECK_WORK:-}" ] || rm -rf "$WORK"  # everything worth keeping is in $OUT
[ "$notok" = 0 ]  # exit status: 0 when every stage is ok
