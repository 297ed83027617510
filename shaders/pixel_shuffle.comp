#version 450
#extension GL_GOOGLE_include_directive : require
// PixelShuffle: out[n, c, y·r+i, x·r+j] = in[n, c·r²+i·r+j, y, x]; one output element each.
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 1) writeonly buffer Y_ { float Y[]; };
layout(push_constant) uniform P { uint n, C, OH, OW, r; } p; // C: output channels

void main() {
	uint g = gidx();
	if (g >= p.n) return;
	uint ox = g % p.OW, t = g / p.OW, oy = t % p.OH; t /= p.OH;
	uint c = t % p.C, b = t / p.C;
	uint H = p.OH / p.r, W = p.OW / p.r;
	uint ic = c * p.r * p.r + (oy % p.r) * p.r + ox % p.r;
	Y[g] = X[((b * p.C * p.r * p.r + ic) * H + oy / p.r) * W + ox / p.r];
}
