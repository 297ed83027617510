#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Generic strided GEMM: C[z][i][j] = Σ_k A(i,k)·B(k,j) (+ bias[j]) with
// A(i,k) = A[offA + z·sAb + i·sAi + k·sAk], B(k,j) = B[offB + z·sBb + k·sBk + j·sBj],
// C at offC + z·sCb + i·ldc + j; bias per column j, or per row i (conv). Any layout (transposes are strides), any sizes. Each
// invocation computes a 4×4 block; BF16 (spec 1) reads B as packed halves.
#include "common.glsl"
layout(constant_id = 1) const uint BF16 = 0;
layout(std430, binding = 0) readonly buffer A_ { float A[]; };
layout(std430, binding = 1) readonly buffer B_ { uint B[]; };
layout(std430, binding = 2) readonly buffer Bias_ { float Bias[]; };
layout(std430, binding = 3) writeonly buffer C_ { float C[]; };
layout(push_constant) uniform P {
	uint M, N, K, sAi, sAk, sBk, sBj, ldc, offA, offB, offC, sAb, sBb, sCb;
	uint flags; // bit 0 bias, bit 3 bias per row (else per column)
} p;

float ldB(uint i) { return BF16 != 0u ? h2f(HALF_AT(B, i)) : uintBitsToFloat(B[i]); }

void main() {
	uint nj = (p.N + 3u) / 4u, t = gidx();
	if (t >= nj * ((p.M + 3u) / 4u)) return;
	uint i0 = (t / nj) * 4u, j0 = (t % nj) * 4u, z = gl_WorkGroupID.z;
	uint aB = p.offA + z * p.sAb, bB = p.offB + z * p.sBb;
	uint ri[4], cj[4];
	[[unroll]] for (int r = 0; r < 4; r++) { ri[r] = min(i0 + r, p.M - 1u); cj[r] = min(j0 + r, p.N - 1u); }
	float acc[4][4];
	[[unroll]] for (int r = 0; r < 4; r++) [[unroll]] for (int c = 0; c < 4; c++) acc[r][c] = 0.0;
	for (uint k = 0u; k < p.K; k++) {
		float a[4], b[4];
		[[unroll]] for (int r = 0; r < 4; r++) a[r] = A[aB + ri[r] * p.sAi + k * p.sAk];
		[[unroll]] for (int c = 0; c < 4; c++) b[c] = ldB(bB + k * p.sBk + cj[c] * p.sBj);
		[[unroll]] for (int r = 0; r < 4; r++) [[unroll]] for (int c = 0; c < 4; c++) acc[r][c] += a[r] * b[c];
	}
	uint cB = p.offC + z * p.sCb;
	[[unroll]] for (int r = 0; r < 4; r++) [[unroll]] for (int c = 0; c < 4; c++) {
		uint i = i0 + r, j = j0 + c;
		if (i < p.M && j < p.N)
			C[cB + i * p.ldc + j] = acc[r][c] + ((p.flags & 1u) != 0u ? Bias[(p.flags & 8u) != 0u ? i : j] : 0.0);
	}
}
