#version 450
#extension GL_GOOGLE_include_directive : require
// Resize [planes, H, W] -> [planes, OH, OW] like PyTorch F.interpolate(align_corners=False).
// MODE (spec 1): 0 nearest (src = floor(dst·(in/out)) in float32), 1 bilinear, 2 bicubic
// (Keys a = −0.75, taps clamped to the edge). One output element per invocation.
#include "common.glsl"
layout(constant_id = 1) const uint MODE = 0;
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 1) writeonly buffer Y_ { float Y[]; };
layout(push_constant) uniform P { uint n, H, W, OH, OW; float sy, sx; } p; // s = float32(in)/float32(out)

float keys(float d) {
	d = abs(d);
	if (d <= 1.0) return (1.25 * d - 2.25) * d * d + 1.0;
	if (d < 2.0) return ((-0.75 * d + 3.75) * d - 6.0) * d + 3.0;
	return 0.0;
}

// taps along one axis: indices i[0..3] and weights w[0..3] (unused taps get weight 0).
void taps(uint dst, uint len, float s, out int i[4], out float w[4]) {
	int hi = int(len) - 1;
	if (MODE == 0u) {
		i[0] = min(int(floor(float(dst) * s)), hi); w[0] = 1.0;
		i[1] = i[2] = i[3] = i[0]; w[1] = w[2] = w[3] = 0.0;
	} else if (MODE == 1u) {
		float src = max((float(dst) + 0.5) * s - 0.5, 0.0);
		int f = int(floor(src));
		float t = src - float(f);
		i[0] = min(f, hi); i[1] = min(f + 1, hi); i[2] = i[3] = i[0];
		w[0] = 1.0 - t; w[1] = t; w[2] = w[3] = 0.0;
	} else {
		float src = (float(dst) + 0.5) * s - 0.5, fl = floor(src), t = src - fl;
		int f = int(fl);
		for (int k = 0; k < 4; k++) i[k] = clamp(f - 1 + k, 0, hi);
		w[0] = keys(t + 1.0); w[1] = keys(t); w[2] = keys(1.0 - t); w[3] = keys(2.0 - t);
	}
}

void main() {
	uint g = gidx();
	if (g >= p.n) return;
	uint ox = g % p.OW, r = g / p.OW, oy = r % p.OH, pl = r / p.OH;
	int iy[4], ix[4];
	float wy[4], wx[4];
	taps(oy, p.H, p.sy, iy, wy);
	taps(ox, p.W, p.sx, ix, wx);
	uint base = pl * p.H * p.W;
	int nt = MODE == 0u ? 1 : MODE == 1u ? 2 : 4;
	float s = 0.0;
	for (int a = 0; a < nt; a++) {
		float row = 0.0;
		for (int b = 0; b < nt; b++) row += wx[b] * X[base + uint(iy[a]) * p.W + uint(ix[b])];
		s += wy[a] * row;
	}
	Y[g] = s;
}
