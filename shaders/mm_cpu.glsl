#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_control_flow_attributes : require
// GEMM for CPU Vulkan drivers (lavapipe), C = A·B (+ bias), A row-major [M, K] (sAk = 1).
// Macros: TB = 1 for B as [N, K] (sBk = 1), else [K, N] (sBj = 1); BF16 = 1 for packed-half B;
// BW = 8 or 4: B is read in chunks of BW elements. A's rows must start at multiples of 4
// elements and B's at multiples of BW. A reads run past K into the next row (or into the
// 32 bytes of padding the backend puts after every buffer) and are masked to zero; B addresses
// past K or N are clamped into B's own rows, and past K they only meet A's zeros (so B's
// entries must be finite, which also keeps NaN-filled unused rows of a KV cache harmless).
// C is stored in 4-vectors: ldc, offC and sCb must be multiples of 4.
// One workgroup is one subgroup (width = subgroup size): it computes TM rows × LX·TN columns.
// On lavapipe a load whose address differs per lane costs a loop over lanes, while a load
// from shared memory at a constant address is one scalar load + broadcast. So the A tile is
// staged in shared memory and read back at constant (unrolled) indices; each lane owns TN
// columns of B loaded as 64-bit-component vectors. K runs innermost over an 8-step block so
// each accumulator is loaded and stored once per block. The driver must unroll the loops over
// the accumulators: the outer ones carry [[unroll]] (forcing it in Mesa's NIR), the inner
// ones are short. Hinting every level would make glslc -O unroll them itself (~10 GB).
#include "common.glsl"
#define TM 32
#define TN 16
#define KB 8
layout(std430, binding = 0) readonly buffer A2_ { u64vec2 A2[]; };
#if BF16 && BW == 8
layout(std430, binding = 1) readonly buffer B1_ { u64vec2 B1[]; }; // 8 halves
#elif BF16
layout(std430, binding = 1) readonly buffer B1_ { uint64_t B1[]; }; // 4 halves
#elif BW == 8
layout(std430, binding = 1) readonly buffer B1_ { u64vec4 B1[]; }; // 8 floats
#else
layout(std430, binding = 1) readonly buffer B1_ { u64vec2 B1[]; }; // 4 floats
#endif
layout(std430, binding = 2) readonly buffer Bias_ { float Bias[]; };
layout(std430, binding = 2) readonly buffer Bias2_ { u64vec2 Bias2[]; };
layout(std430, binding = 3) writeonly buffer C2_ { u64vec2 C2[]; };
layout(push_constant) uniform P {
	uint M, N, K, sAi, sAk, sBk, sBj, ldc, offA, offB, offC, sAb, sBb, sCb;
	uint flags; // bit 0 bias, bit 3 bias per row (else per column)
} p;

shared u64vec4 sA[TM]; // TM rows × KB values
shared float sBias[TM];

vec4 u2f(u64vec2 v) { return vec4(uintBitsToFloat(unpackUint2x32(v.x)), uintBitsToFloat(unpackUint2x32(v.y))); }
u64vec2 f2u(vec4 f) { return u64vec2(packUint2x32(floatBitsToUint(f.xy)), packUint2x32(floatBitsToUint(f.zw))); }

vec4 h4(uint64_t v) {
	uvec2 w = unpackUint2x32(v);
	return vec4(h2f(w.x & 0xffffu), h2f(w.x >> 16), h2f(w.y & 0xffffu), h2f(w.y >> 16));
}

// BW consecutive B elements starting at element e (a multiple of BW) into t[0..BW).
void ldB(uint e, out float t[BW]) {
	vec4 lo, hi;
#if BF16 && BW == 8
	u64vec2 v = B1[e / 8u]; lo = h4(v.x); hi = h4(v.y);
#elif BF16
	lo = h4(B1[e / 4u]); hi = lo;
#elif BW == 8
	u64vec4 v = B1[e / 8u]; lo = u2f(v.xy); hi = u2f(v.zw);
#else
	lo = u2f(B1[e / 4u]); hi = lo;
#endif
	for (int j = 0; j < 4; j++) { t[j] = lo[j]; if (BW == 8) t[(j + 4) % BW] = hi[j]; }
}

void main() {
	uint lane = gl_LocalInvocationID.x, LX = gl_WorkGroupSize.x;
	uint m0 = gl_WorkGroupID.y * TM, n0 = (gl_WorkGroupID.x * LX + lane) * TN;
	uint aBase = p.offA + gl_WorkGroupID.z * p.sAb, bBase = p.offB + gl_WorkGroupID.z * p.sBb;
	float acc[TM][TN];
	[[unroll]] for (int i = 0; i < TM; i++) for (int c = 0; c < TN; c++) acc[i][c] = 0.0;

	for (uint k0 = 0u; k0 < p.K; k0 += KB) {
		// Stage the A tile: rows m0.. (clamped to M), values k0..k0+7 (zero beyond K).
		subgroupBarrier();
		for (uint q = lane; q < TM; q += LX) {
			uint e = (aBase + min(m0 + q, p.M - 1u) * p.sAi + k0) / 4u;
			vec4 lo = u2f(A2[e]), hi = u2f(A2[e + 1u]);
			if (k0 + 8u > p.K)
				for (uint j = 0u; j < 4u; j++) {
					if (k0 + j >= p.K) lo[j] = 0.0;
					if (k0 + 4u + j >= p.K) hi[j] = 0.0;
				}
			sA[q] = u64vec4(f2u(lo), f2u(hi));
		}
		subgroupMemoryBarrierShared();
		subgroupBarrier();

		// This lane's B values: bv[kk][c] = B(k0+kk, n0+c). Past K they are other finite
		// entries of B (clamped addresses), multiplied by the zeros staged for A.
		float bv[KB][TN];
#if TB
		for (int c = 0; c < TN; c++) {
			uint e = bBase + min(n0 + c, p.N - 1u) * p.sBj;
			for (int h = 0; h < KB / BW; h++) {
				uint k = k0 + BW * h;
				float t[BW];
				ldB(e + min(k, (p.K - 1u) & ~(BW - 1u)), t);
				for (int j = 0; j < BW; j++) bv[BW * h + j][c] = t[j];
			}
		}
#else
		for (int kk = 0; kk < KB; kk++) {
			uint k = k0 + kk, row = bBase + min(k, p.K - 1u) * p.sBk;
			for (int j = 0; j < TN / BW; j++) {
				float t[BW];
				ldB(row + min(n0 + BW * j, (p.N - 1u) & ~(BW - 1u)), t);
				for (int e = 0; e < BW; e++) bv[kk][BW * j + e] = t[e];
			}
		}
#endif
		[[unroll]] for (int i = 0; i < TM; i++) {
			u64vec4 sa = sA[i];
			vec4 a0 = u2f(sa.xy), a1 = u2f(sa.zw);
			float a[KB] = float[KB](a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w);
			for (int c = 0; c < TN; c++) {
				float s = acc[i][c];
				for (int kk = 0; kk < KB; kk++) s += a[kk] * bv[kk][c];
				acc[i][c] = s;
			}
		}
	}

	// Bias per row (staged in shared memory, read back uniformly) or per column (this lane's
	// TN columns).
	bool bias = (p.flags & 1u) != 0u, rowBias = (p.flags & 8u) != 0u;
	if (bias && rowBias)
		for (uint q = lane; q < TM; q += LX) sBias[q] = Bias[min(m0 + q, p.M - 1u)];
	subgroupMemoryBarrierShared();
	subgroupBarrier();
	vec4 cb[TN / 4];
	for (int j = 0; j < TN / 4; j++) cb[j] = vec4(0.0);
	if (bias && !rowBias)
		for (int j = 0; j < TN / 4; j++) cb[j] = u2f(Bias2[min(n0 / 4u + j, (p.N - 1u) / 4u)]);
	// Stores as 4-vectors: ldc, offC and sCb are multiples of 4, so a chunk starting below N
	// lies in C's row (past N only in row padding, which callers allow).
	uint cBase = p.offC + gl_WorkGroupID.z * p.sCb;
	[[unroll]] for (int i = 0; i < TM; i++) {
		uint row = m0 + i;
		if (row < p.M) {
			float rb = sBias[i];
			for (int j = 0; j < TN / 4; j++) {
				uint col = n0 + 4u * j;
				vec4 v = vec4(acc[i][4 * j], acc[i][4 * j + 1], acc[i][4 * j + 2], acc[i][4 * j + 3]);
				if (bias) v += rowBias ? vec4(rb) : cb[j];
				if (col < p.N) C2[(cBase + row * p.ldc + col) / 4u] = f2u(v);
			}
		}
	}
}
