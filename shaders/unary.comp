#version 450
#extension GL_GOOGLE_include_directive : require
// Elementwise y = f(x), four elements per invocation. OP (spec 1): 0 GELU (exact erf form),
// 1 SiLU, 2 ReLU (the values of ml.Unary), 3 scale.
#include "common.glsl"
layout(constant_id = 1) const uint OP = 0;
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 0) readonly buffer X4_ { vec4 X4[]; };
layout(std430, binding = 1) writeonly buffer Y_ { float Y[]; };
layout(std430, binding = 1) writeonly buffer Y4_ { vec4 Y4[]; };
layout(push_constant) uniform P { uint n; float scale; } p;

// erfc(z) for z >= 0 with fractional error < 1.2e-7 (Numerical Recipes erfcc).
float erfcPos(float z) {
	float t = 1.0 / (1.0 + 0.5 * z);
	float r = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
		t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
	return t * exp(r);
}

vec4 f(vec4 x) {
	if (OP == 3u) return x * p.scale;
	if (OP == 2u) return max(x, vec4(0.0));
	if (OP == 1u) return x / (1.0 + exp(-x));
	vec4 y;
	for (int i = 0; i < 4; i++) { // x·Φ(x), Φ(x) = erfc(−x/√2)/2
		float q = 0.5 * erfcPos(abs(x[i]) * 0.70710678118654752);
		y[i] = x[i] * (x[i] < 0.0 ? q : 1.0 - q);
	}
	return y;
}

void main() {
	uint i = gidx() * 4u;
	if (i + 4u <= p.n) {
		Y4[i / 4u] = f(X4[i / 4u]);
	} else {
		for (; i < p.n; i++) Y[i] = f(vec4(X[i])).x;
	}
}
