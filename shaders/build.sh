#!/bin/sh
# Compiles every kernel (and variant) in this directory to SPIR-V. Deterministic: same glslc,
# same bytes. Run from anywhere: sh shaders/build.sh
set -eu
cd "$(dirname "$0")"
GLSLC="${GLSLC:-glslc} --target-env=vulkan1.1 -O"
for src in *.comp; do
	name="${src%.comp}"
	$GLSLC "$src" -o "$name.spv"
done
# CPU-driver GEMM: TB (B is [N, K]), BF16 (packed-half B), BW (B chunk width).
for tb in 0 1; do for h in 0 1; do for bw in 4 8; do
	$GLSLC -fshader-stage=compute -DTB=$tb -DBF16=$h -DBW=$bw mm_cpu.glsl -o "mm_cpu_t${tb}_h${h}_w${bw}.spv"
done; done; done
