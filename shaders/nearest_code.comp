#version 450
#extension GL_GOOGLE_include_directive : require
// VQ step: for each row of x [M, C] the index of the nearest codebook row [V, C] in squared
// L2 distance, lowest index on ties; one row per invocation. F16 (spec 1): packed-half codebook.
#include "common.glsl"
layout(constant_id = 1) const uint F16 = 0;
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 0) readonly buffer X4_ { vec4 X4[]; };
layout(std430, binding = 1) readonly buffer E_ { uint E[]; };
layout(std430, binding = 1) readonly buffer E4_ { vec4 E4[]; };
layout(std430, binding = 2) writeonly buffer Y_ { int Y[]; };
layout(push_constant) uniform P { uint m, c, v; } p;

float code(uint i) { return F16 != 0u ? h2f(HALF_AT(E, i)) : uintBitsToFloat(E[i]); }

void main() {
	uint row = gidx();
	if (row >= p.m) return;
	uint x0 = row * p.c, best = 0u;
	float bd = 1.0 / 0.0;
	if (F16 == 0u && p.c % 4u == 0u) { // f32 rows of whole vec4s
		uint c4 = p.c / 4u;
		for (uint v = 0u; v < p.v; v++) {
			vec4 d = vec4(0.0);
			for (uint k = 0u; k < c4; k++) { vec4 t = X4[row * c4 + k] - E4[v * c4 + k]; d += t * t; }
			float s = (d.x + d.y) + (d.z + d.w);
			if (s < bd) { bd = s; best = v; }
		}
	} else {
		for (uint v = 0u; v < p.v; v++) {
			float d = 0.0;
			for (uint k = 0u; k < p.c; k++) { float t = X[x0 + k] - code(v * p.c + k); d += t * t; }
			if (d < bd) { bd = d; best = v; }
		}
	}
	Y[row] = int(best);
}
