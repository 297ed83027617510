# hitsr — see README.md. Targets: deps shaders build test bench run fuzz train-pack device-check plugin.
GO      ?= go
DEBS    := build-essential pkg-config libavcodec-dev libavformat-dev libavfilter-dev libswscale-dev \
           libswresample-dev libavdevice-dev ffmpeg libvulkan-dev mesa-vulkan-drivers glslc \
           spirv-tools libopenblas-dev python3-torch python3-numpy python3-matplotlib \
           libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export GOFLAGS ?= -buildvcs=false

.PHONY: deps shaders build test bench run scaleout-demo fuzz train-pack device-check plugin

# Installs the Debian packages that are missing (Debian 12; needs root or sudo).
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(GO) mod download

# Rebuilds the committed SPIR-V from shaders/*.comp (needs glslc).
shaders:
	sh shaders/build.sh

build:
	$(GO) build ./...

test:
	$(GO) vet ./...
	$(GO) test -timeout 20m ./...
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
		OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 -m unittest discover -s train/tests; \
	else echo "skipping train/tests: Debian's python3-torch is not installed (make deps installs it)"; fi

# The C ABI and the GStreamer element (plugin/): $(PLUGIN_DIR)/libhitsr.so and hitsr.h, and
# $(PLUGIN_DIR)/gst/libgsthitsr.so (GST_PLUGIN_PATH=$(PLUGIN_DIR)/gst gst-inspect-1.0 hitsr).
PLUGIN_DIR ?= build/plugin
plugin:
	mkdir -p $(PLUGIN_DIR)/gst
	$(GO) build -buildmode=c-shared -o $(PLUGIN_DIR)/libhitsr.so ./plugin/capi
	rm -f $(PLUGIN_DIR)/libhitsr.h
	cp plugin/capi/hitsr.h $(PLUGIN_DIR)/hitsr.h
	@if pkg-config --exists gstreamer-video-1.0; then set -x; \
		$(CC) -shared -fPIC -O2 -Wall -o $(PLUGIN_DIR)/gst/libgsthitsr.so plugin/gst/gsthitsr.c -I$(PLUGIN_DIR) \
			$$(pkg-config --cflags --libs gstreamer-video-1.0) -L$(PLUGIN_DIR) -lhitsr -Wl,-rpath,'$$ORIGIN/..'; \
	else echo "skipping the GStreamer element: libgstreamer-plugins-base1.0-dev is not installed (make deps installs it)"; fi

# Compute-core table; the shipped model (output Mpx/s at 360p, one pass ×2+×4 vs ×4; a model v2's
# kFLOP per ×4 px and ms per 320×180 frame, full and ×2-only, HITSR_V2_MODEL or the shipped one); the video
# pipeline end to end per mode (320×180 real frames → ×2+×4 vs ffmpeg Lanczos, same run), resident memory.
bench:
	$(GO) run ./cmd/hitsr-bench
	$(GO) test ./hitsr -run '^$$' -bench 'OpenBLAS|Upscale360p|OnePass|V2Cost' -benchtime 1x
	@# Temporal token reuse and stabilisation on the shared clips (issue 12): evaluations saved, speed-up, PSNR-Y, flicker, a plot; the stabiliser's cost.
	nice -n 10 $(GO) test ./hitsr -run '^$$' -bench 'TemporalReuse|Stabilize' -benchtime 1x -timeout 60m
	$(GO) test ./pipeline -run '^$$' -bench 'Modes|RSS1000|Soak10000|LiveLatency' -benchtime 1x -timeout 90m
	@# Peak resident memory of one frame → ×2 + ×4 per input size and mode (issue 11: ≤ 1 GB at 640×360, ≤ 1.5 GB at 1280×720).
	@d=$$(mktemp -d) && $(GO) build -o $$d/hitsr-video ./cmd/hitsr-video && \
	for size in 640x360 1280x720; do \
		ffmpeg -v error -f lavfi -i testsrc2=size=$$size -frames:v 1 $$d/in.png && \
		for mode in fidelity full; do \
			/usr/bin/time -f "peak RSS $$size $$mode: %M KB, %e s" $$d/hitsr-video $$d/in.png --mode $$mode --device cpu \
				--out 2:$$d/o2.png --out 4:$$d/o4.png -y --log-level error || exit 1; \
		done; rm -f $$d/in.png; \
	done; rm -rf $$d

# The main job on the bundled sample clip: ×2 and ×4 from one model pass per frame (out/).
run:
	mkdir -p out
	$(GO) run ./cmd/hitsr-video testdata/sample.mp4 --out out/2x.mp4,out/4x.mp4 -y

# Scale-out on this machine with the commands the Kubernetes Jobs run (deploy/k8s): a plan of
# the sample (re-encoded with a keyframe every 0.5 s) in SEGMENTS parts, one worker process per
# segment given its JOB_COMPLETION_INDEX, then the join; everything in out/scaleout/.
SEGMENTS ?= 3
SO := out/scaleout
scaleout-demo:
	mkdir -p $(SO)
	$(GO) build -o $(SO)/hitsr-video ./cmd/hitsr-video
	ffmpeg -v error -nostdin -y -i testdata/sample.mp4 -c:v libx264 -g 12 -c:a copy $(SO)/in.mp4
	$(SO)/hitsr-video plan $(SO)/in.mp4 --segments $(SEGMENTS) --plan $(SO)/plan.json -y
	pids=; for i in $$(seq 0 $$(($(SEGMENTS) - 1))); do \
		JOB_COMPLETION_INDEX=$$i $(SO)/hitsr-video $(SO)/in.mp4 --plan $(SO)/plan.json \
			--out $(SO)/2x.mp4,$(SO)/4x.mp4 --progress never -y & pids="$$pids $$!"; \
	done; for p in $$pids; do wait $$p || exit 1; done
	$(SO)/hitsr-video join --plan $(SO)/plan.json --out $(SO)/2x.mp4,$(SO)/4x.mp4 -y

# Runs every Fuzz* target (found in the *_test.go files) for FUZZTIME each, one at a time; a
# crasher is written under the package's testdata/fuzz/ (commit it: `go test` then runs it).
FUZZTIME ?= 10m
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read f; do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$t ($$(dirname $$f), $(FUZZTIME))"; \
			$(GO) test $$(dirname $$f) -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 20x || exit 1; \
		done; \
	done

# The packed backbone training set the GPU device check carries (train/pack_backbone.py: tiles of
# the T91 + BSD200 training pairs, lossless, at most PACK_MB MB); docs/training.md.
PACK_MB ?= 30
train-pack:
	/usr/bin/python3 train/pack_backbone.py --out .devcheck/backbone_pack.npz --mb $(PACK_MB)

# Prepares the GPU device check (scripts/device-check.sh) here: prebuilt test and bench binaries,
# their libraries, the Vulkan loader packages (.gl), the pack; then checks the size that travels.
device-check:
	PACK_MB=$(PACK_MB) bash scripts/device-prep.sh
