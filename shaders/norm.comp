#version 450
#extension GL_GOOGLE_include_directive : require
// Group / layer normalisation, one group of `size` consecutive elements per invocation:
// y = (x − mean)/sqrt(var + eps) (biased variance, two passes), then ·gamma[c] + beta[c] with
// c = (index / plane) % channels. flags: bit 0 gamma, bit 1 beta.
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 0) readonly buffer X4_ { vec4 X4[]; };
layout(std430, binding = 1) readonly buffer G_ { float G[]; };
layout(std430, binding = 2) readonly buffer Bt_ { float Bt[]; };
layout(std430, binding = 3) writeonly buffer Y_ { float Y[]; };
layout(push_constant) uniform P { uint groups, size, plane, channels; float eps; uint flags; } p;

void main() {
	uint g = gidx();
	if (g >= p.groups) return;
	uint base = g * p.size;
	bool v4 = p.size % 4u == 0u;
	float sum = 0.0;
	if (v4) {
		vec4 s = vec4(0.0);
		for (uint i = base / 4u; i < (base + p.size) / 4u; i++) s += X4[i];
		sum = s.x + s.y + s.z + s.w;
	} else {
		for (uint i = base; i < base + p.size; i++) sum += X[i];
	}
	float mean = sum / float(p.size), vs = 0.0;
	if (v4) {
		vec4 s = vec4(0.0);
		for (uint i = base / 4u; i < (base + p.size) / 4u; i++) { vec4 d = X4[i] - mean; s += d * d; }
		vs = s.x + s.y + s.z + s.w;
	} else {
		for (uint i = base; i < base + p.size; i++) { float d = X[i] - mean; vs += d * d; }
	}
	float inv = inversesqrt(vs / float(p.size) + p.eps);
	for (uint i = base; i < base + p.size; i++) {
		float y = (X[i] - mean) * inv;
		uint c = (i / p.plane) % p.channels;
		if ((p.flags & 1u) != 0u) y *= G[c];
		if ((p.flags & 2u) != 0u) y += Bt[c];
		Y[i] = y;
	}
}
