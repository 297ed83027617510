#version 450
#extension GL_GOOGLE_include_directive : require
// f32 <-> f16 (packed halves). TOH (spec 1) = 1: f32 -> f16, one output word (two halves) per
// invocation; 0: f16 -> f32, one element per invocation.
#include "common.glsl"
layout(constant_id = 1) const uint TOH = 1;
layout(std430, binding = 0) readonly buffer S_ { uint S[]; };
layout(std430, binding = 1) writeonly buffer D_ { uint D[]; };
layout(push_constant) uniform P { uint n; } p; // elements

void main() {
	uint g = gidx();
	if (TOH == 1u) {
		uint i = 2u * g;
		if (i >= p.n) return;
		uint hi = i + 1u < p.n ? f2h(uintBitsToFloat(S[i + 1u])) : 0u;
		D[g] = f2h(uintBitsToFloat(S[i])) | (hi << 16);
	} else if (g < p.n) {
		D[g] = floatBitsToUint(h2f(HALF_AT(S, g)));
	}
}
