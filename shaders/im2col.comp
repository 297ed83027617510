#version 450
#extension GL_GOOGLE_include_directive : require
// im2col for convolutions the direct kernels do not cover: col[i][k][q] = x[n0+i, c,
// oy·stride+ky−pad, ox·stride+kx−pad] (zero outside) with k = (c·KH+ky)·KW+kx < K and output
// pixel p0+q = oy·OW+ox; rows K..Kp−1 and columns Pc..ldq−1 are zero. One element each.
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 1) writeonly buffer Col_ { float Col[]; };
layout(push_constant) uniform P {
	uint n, C, H, W, KH, KW, stride, pad, OW, K, Kp, ldq, Pc, p0, n0, P;
} p;

void main() {
	uint g = gidx();
	if (g >= p.n) return;
	uint q = g % p.ldq, r = g / p.ldq, k = r % p.Kp, i = r / p.Kp;
	float v = 0.0;
	if (k < p.K && q < p.Pc) {
		uint kx = k % p.KW, t = k / p.KW, ky = t % p.KH, c = t / p.KH;
		uint pix = p.p0 + q, oy = pix / p.OW, ox = pix % p.OW;
		int y = int(oy * p.stride + ky) - int(p.pad), x = int(ox * p.stride + kx) - int(p.pad);
		if (y >= 0 && y < int(p.H) && x >= 0 && x < int(p.W))
			v = X[((p.n0 + i) * p.C + c) * p.H * p.W + uint(y) * p.W + uint(x)];
	}
	Col[g] = v;
}
