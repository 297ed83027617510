#version 450
#extension GL_GOOGLE_include_directive : require
// Repack rows as f32 with padding: out[r][k] = in[r·K + k] for k < K, zero for K ≤ k < Kp.
// F16 (spec 1): packed-half input. Used for conv weights ([O][C·KH·KW] -> [O][Kp]).
#include "common.glsl"
layout(constant_id = 1) const uint F16 = 0;
layout(std430, binding = 0) readonly buffer S_ { uint S[]; };
layout(std430, binding = 1) writeonly buffer D_ { float D[]; };
layout(push_constant) uniform P { uint n, K, Kp; } p; // n = rows·Kp

void main() {
	uint g = gidx();
	if (g >= p.n) return;
	uint k = g % p.Kp, i = (g / p.Kp) * p.K + k;
	D[g] = k >= p.K ? 0.0 : F16 != 0u ? h2f(HALF_AT(S, i)) : uintBitsToFloat(S[i]);
}
