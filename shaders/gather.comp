#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup: out[r, c] = table[ids[r], c], zero rows for ids outside 0..V-1.
// One output element per invocation; F16 (spec 1): packed-half table.
#include "common.glsl"
layout(constant_id = 1) const uint F16 = 0;
layout(std430, binding = 0) readonly buffer T_ { uint T[]; };
layout(std430, binding = 1) readonly buffer I_ { int I[]; };
layout(std430, binding = 2) writeonly buffer Y_ { float Y[]; };
layout(push_constant) uniform P { uint n, c, v; } p; // n = rows·c

void main() {
	uint i = gidx();
	if (i >= p.n) return;
	int id = I[i / p.c];
	float y = 0.0;
	if (id >= 0 && uint(id) < p.v) {
		uint t = uint(id) * p.c + i % p.c;
		y = F16 != 0u ? h2f(HALF_AT(T, t)) : uintBitsToFloat(T[t]);
	}
	Y[i] = y;
}
