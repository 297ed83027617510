#version 450
#extension GL_GOOGLE_include_directive : require
// Index of the largest value of each row (lowest index on ties), one row per invocation.
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 1) writeonly buffer Y_ { int Y[]; };
layout(push_constant) uniform P { uint rows, cols; } p;

void main() {
	uint row = gidx();
	if (row >= p.rows) return;
	uint base = row * p.cols, best = 0u;
	float bv = X[base];
	for (uint j = 1u; j < p.cols; j++) {
		float v = X[base + j];
		if (v > bv) { bv = v; best = j; }
	}
	Y[row] = int(best);
}
