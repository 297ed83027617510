#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_control_flow_attributes : require
// Direct 3×3 convolution, stride 1, pad 1, for CPU Vulkan drivers (see mm_cpu.glsl for why):
// an implicit GEMM with output channels as rows and pixels as columns. One workgroup is one
// subgroup; it computes TM output channels × LX·TN pixels, each lane TN consecutive pixels of
// one output row. Per input channel the weights (packed as [O][C][12] f32, taps zero-padded
// from 9 to 12) are staged in shared memory and read back at constant indices; each lane loads
// three 24-wide input row windows as 64-bit vectors (W % 4 == 0) and takes the taps from them.
#include "common.glsl"
#define TM 32
#define TN 16
layout(std430, binding = 0) readonly buffer X_ { u64vec2 X[]; };   // [N][C][H][W] f32
layout(std430, binding = 1) readonly buffer Wt_ { u64vec2 Wt[]; }; // [O][C][12] f32
layout(std430, binding = 2) readonly buffer Bias_ { float Bias[]; };
layout(std430, binding = 3) writeonly buffer Y_ { u64vec2 Y[]; }; // [N][O][H][W]
layout(push_constant) uniform P { uint C, H, W, O, flags; } p;    // flags bit 0: bias

shared u64vec2 sW[TM][3];
shared float sBias[TM];

vec4 u2f(u64vec2 v) { return vec4(uintBitsToFloat(unpackUint2x32(v.x)), uintBitsToFloat(unpackUint2x32(v.y))); }
u64vec2 f2u(vec4 f) { return u64vec2(packUint2x32(floatBitsToUint(f.xy)), packUint2x32(floatBitsToUint(f.zw))); }

void main() {
	uint lane = gl_LocalInvocationID.x, LX = gl_WorkGroupSize.x;
	uint W4 = p.W / 4u, tpr = (p.W + TN - 1u) / TN, t = gl_WorkGroupID.x * LX + lane;
	uint oy = t / tpr, ox0 = (t % tpr) * TN, o0 = gl_WorkGroupID.y * TM, n = gl_WorkGroupID.z;
	bool live = oy < p.H;
	oy = min(oy, p.H - 1u);
	float acc[TM][TN];
	[[unroll]] for (int i = 0; i < TM; i++) for (int q = 0; q < TN; q++) acc[i][q] = 0.0;

	for (uint c = 0u; c < p.C; c++) {
		subgroupBarrier();
		for (uint j = lane; j < TM * 3u; j += LX)
			sW[j / 3u][j % 3u] = Wt[(min(o0 + j / 3u, p.O - 1u) * p.C + c) * 3u + j % 3u];
		subgroupMemoryBarrierShared();
		subgroupBarrier();

		// win[ky][e] = x[n, c, oy+ky−1, ox0−4+e], zero outside the image.
		float win[3][TN + 8];
		uint plane = (n * p.C + c) * p.H;
		for (int ky = 0; ky < 3; ky++) {
			int y = int(oy) + ky - 1;
			bool yok = y >= 0 && y < int(p.H);
			uint rowBase = (plane + uint(clamp(y, 0, int(p.H) - 1))) * W4;
			for (int j = 0; j < (TN + 8) / 4; j++) {
				int cx = int(ox0 / 4u) - 1 + j; // chunk index within the row
				bool ok = yok && cx >= 0 && cx < int(W4);
				vec4 v = u2f(X[rowBase + uint(clamp(cx, 0, int(W4) - 1))]);
				for (int e = 0; e < 4; e++) win[ky][4 * j + e] = ok ? v[e] : 0.0;
			}
		}
		[[unroll]] for (int i = 0; i < TM; i++) {
			vec4 w0 = u2f(sW[i][0]), w1 = u2f(sW[i][1]), w2 = u2f(sW[i][2]);
			float a[9] = float[9](w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w, w2.x);
			for (int q = 0; q < TN; q++) {
				float s = acc[i][q];
				for (int ky = 0; ky < 3; ky++)
					for (int kx = 0; kx < 3; kx++) s += a[3 * ky + kx] * win[ky][3 + q + kx];
				acc[i][q] = s;
			}
		}
	}

	bool bias = (p.flags & 1u) != 0u;
	if (bias)
		for (uint q = lane; q < TM; q += LX) sBias[q] = Bias[min(o0 + q, p.O - 1u)];
	subgroupMemoryBarrierShared();
	subgroupBarrier();
	if (!live) return;
	[[unroll]] for (int i = 0; i < TM; i++) {
		uint o = o0 + i;
		if (o < p.O) {
			float b = bias ? sBias[i] : 0.0;
			uint base = ((n * p.O + o) * p.H + oy) * W4 + ox0 / 4u;
			for (int j = 0; j < TN / 4; j++)
				if (ox0 + 4u * j < p.W)
					Y[base + j] = f2u(vec4(acc[i][4 * j], acc[i][4 * j + 1], acc[i][4 * j + 2], acc[i][4 * j + 3]) + b);
		}
	}
}
