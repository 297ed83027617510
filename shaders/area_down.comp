#version 450
#extension GL_GOOGLE_include_directive : require
// Adaptive average pooling [planes, H, W] -> [planes, OH, OW] (PyTorch "area"): output (i, j)
// averages rows [i·H/OH, ceil((i+1)·H/OH)) and likewise columns.
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 1) writeonly buffer Y_ { float Y[]; };
layout(push_constant) uniform P { uint n, H, W, OH, OW; } p;

void main() {
	uint g = gidx();
	if (g >= p.n) return;
	uint j = g % p.OW, r = g / p.OW, i = r % p.OH, pl = r / p.OH;
	uint y0 = i * p.H / p.OH, y1 = ((i + 1u) * p.H + p.OH - 1u) / p.OH;
	uint x0 = j * p.W / p.OW, x1 = ((j + 1u) * p.W + p.OW - 1u) / p.OW;
	float s = 0.0;
	for (uint y = y0; y < y1; y++)
		for (uint x = x0; x < x1; x++) s += X[(pl * p.H + y) * p.W + x];
	Y[g] = s / float((y1 - y0) * (x1 - x0));
}
