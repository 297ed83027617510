#version 450
#extension GL_GOOGLE_include_directive : require
// Top-k sampling by inverse CDF (ml.Context.SampleTopK) in two dispatches, so that no
// invocation loops more than 2·cols times (lavapipe ends a loop after 65535 iterations).
// STAGE 0, one invocation per element: its rank in the row (larger first, lower index first on
// ties; NaN as -inf); the top k write their index to ORDER[row][rank].
// STAGE 1, one invocation per row: the weights exp((x_j - x_0) / T) summed in ORDER, then the
// first whose running sum exceeds u · the total (the k-th if none).
#include "common.glsl"
layout(constant_id = 1) const uint STAGE = 0u;
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 1) readonly buffer U_ { float U[]; };
layout(std430, binding = 2) buffer O_ { int ORDER[]; };
layout(std430, binding = 3) writeonly buffer Y_ { int Y[]; };
layout(push_constant) uniform P { uint rows, cols, k; float temperature; } p;

float key(float v) { return isnan(v) ? uintBitsToFloat(0xff800000u) : v; }

void main() {
	uint id = gidx();
	if (STAGE == 0u) {
		if (id >= p.rows * p.cols) return;
		uint row = id / p.cols, e = id - row * p.cols, base = row * p.cols, rank = 0u;
		float v = key(X[id]);
		for (uint j = 0u; j < p.cols; j++) {
			float w = key(X[base + j]);
			if (w > v || (w == v && j < e)) rank++;
		}
		if (rank < p.k) ORDER[row * p.k + rank] = int(e);
		return;
	}
	if (id >= p.rows) return;
	uint base = id * p.cols, o = id * p.k;
	float top = X[base + uint(ORDER[o])], sum = 0.0;
	for (uint j = 0u; j < p.k; j++) sum += exp((X[base + uint(ORDER[o + j])] - top) / p.temperature);
	float thr = U[id] * sum, acc = 0.0;
	uint j = 0u;
	for (; j + 1u < p.k; j++) {
		acc += exp((X[base + uint(ORDER[o + j])] - top) / p.temperature);
		if (acc > thr) break;
	}
	Y[id] = ORDER[o + j];
}
