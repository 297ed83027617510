// Implicit GEMM for the convolutions: c[i·ldc + j] = bias[i] + Σ_k a[i·K + k] · b[off[k] + j],
// each element one fused multiply-add chain in k order from bias[i] (or 0). A vector FMA lane
// and fmaf round alike, so an element's value depends neither on where it lies in the product
// (tile, band, batch, thread) nor on the instruction set.
#include <math.h>
#include "convgemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

// TILE(isa, W, MR, NR): rows i0..i0+MR−1 and columns j0..j0+NR·W−1 with accumulators in
// registers; LOAD/STORE/FMA/BCAST/ZERO are the ISA's W-wide vector operations, masked by m[v]
// for the last columns.
#define TILE(name, attrs, VEC, MASK, W, MR, NR, LOAD, STORE, FMA, BCAST) \
	attrs static void name(long K, const float *a, const float *b, const long *off, const float *bias, \
		float *c, long ldc, long i0, long j0, const MASK *m) { \
		VEC acc[MR][NR]; \
		_Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) { \
			_Pragma("GCC unroll 8") for (int v = 0; v < NR; v++) acc[i][v] = BCAST(bias ? bias[i0 + i] : 0.f); \
		} \
		const float *ar = a + i0 * K; \
		for (long k = 0; k < K; k++) { \
			const float *bk = b + off[k] + j0; \
			VEC bv[NR]; \
			_Pragma("GCC unroll 8") for (int v = 0; v < NR; v++) bv[v] = LOAD(bk + v * W, m[v]); \
			_Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) { \
				VEC av = BCAST(ar[i * K + k]); \
				_Pragma("GCC unroll 8") for (int v = 0; v < NR; v++) acc[i][v] = FMA(av, bv[v], acc[i][v]); \
			} \
		} \
		_Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) { \
			_Pragma("GCC unroll 8") for (int v = 0; v < NR; v++) STORE(c + (i0 + i) * ldc + j0 + v * W, m[v], acc[i][v]); \
		} \
	}

#define A512 __attribute__((target("avx512f"), always_inline)) inline
#define L512(p, m) _mm512_maskz_loadu_ps(m, p)
#define S512(p, m, x) _mm512_mask_storeu_ps(p, m, x)
#define NR512 4
TILE(t512_6, A512, __m512, __mmask16, 16, 6, NR512, L512, S512, _mm512_fmadd_ps, _mm512_set1_ps)
TILE(t512_4, A512, __m512, __mmask16, 16, 4, NR512, L512, S512, _mm512_fmadd_ps, _mm512_set1_ps)
TILE(t512_2, A512, __m512, __mmask16, 16, 2, NR512, L512, S512, _mm512_fmadd_ps, _mm512_set1_ps)
TILE(t512_1, A512, __m512, __mmask16, 16, 1, NR512, L512, S512, _mm512_fmadd_ps, _mm512_set1_ps)

__attribute__((target("avx512f"))) static void gemm512(long M, long N, long K, const float *a,
	const float *b, const long *off, const float *bias, float *c, long ldc) {
	for (long j0 = 0; j0 < N; j0 += NR512 * 16) {
		__mmask16 m[NR512];
		for (int v = 0; v < NR512; v++) {
			long left = N - j0 - v * 16;
			m[v] = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
		}
		long i0 = 0;
		for (; i0 + 6 <= M; i0 += 6) t512_6(K, a, b, off, bias, c, ldc, i0, j0, m);
		for (; i0 + 4 <= M; i0 += 4) t512_4(K, a, b, off, bias, c, ldc, i0, j0, m);
		for (; i0 + 2 <= M; i0 += 2) t512_2(K, a, b, off, bias, c, ldc, i0, j0, m);
		for (; i0 < M; i0++) t512_1(K, a, b, off, bias, c, ldc, i0, j0, m);
	}
}

#define A256 __attribute__((target("avx2,fma"), always_inline)) inline
#define L256(p, m) _mm256_maskload_ps(p, m)
#define S256(p, m, x) _mm256_maskstore_ps(p, m, x)
#define U256(p, m) _mm256_loadu_ps(p)
#define V256(p, m, x) _mm256_storeu_ps(p, x)
#define NR256 2
// Full column blocks load and store plainly; the last block is masked.
TILE(t256_6, A256, __m256, __m256i, 8, 6, NR256, U256, V256, _mm256_fmadd_ps, _mm256_set1_ps)
TILE(t256_1, A256, __m256, __m256i, 8, 1, NR256, U256, V256, _mm256_fmadd_ps, _mm256_set1_ps)
TILE(t256m_6, A256, __m256, __m256i, 8, 6, NR256, L256, S256, _mm256_fmadd_ps, _mm256_set1_ps)
TILE(t256m_1, A256, __m256, __m256i, 8, 1, NR256, L256, S256, _mm256_fmadd_ps, _mm256_set1_ps)

__attribute__((target("avx2,fma"))) static void gemm256(long M, long N, long K, const float *a,
	const float *b, const long *off, const float *bias, float *c, long ldc) {
	for (long j0 = 0; j0 < N; j0 += NR256 * 8) {
		__m256i m[NR256];
		int full = N - j0 >= NR256 * 8;
		for (int v = 0; v < NR256; v++) {
			long left = N - j0 - v * 8;
			m[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 8 ? left : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
		}
		long i0 = 0;
		for (; i0 + 6 <= M; i0 += 6) {
			if (full) t256_6(K, a, b, off, bias, c, ldc, i0, j0, m);
			else t256m_6(K, a, b, off, bias, c, ldc, i0, j0, m);
		}
		for (; i0 < M; i0++) {
			if (full) t256_1(K, a, b, off, bias, c, ldc, i0, j0, m);
			else t256m_1(K, a, b, off, bias, c, ldc, i0, j0, m);
		}
	}
}
#endif

// Any CPU: fmaf rounds like the vector FMA lanes (in software where there is no FMA unit).
static void gemm_base(long M, long N, long K, const float *a, const float *b, const long *off,
	const float *bias, float *c, long ldc) {
	for (long i = 0; i < M; i++) {
		for (long j = 0; j < N; j++) {
			float acc = bias ? bias[i] : 0.f;
			for (long k = 0; k < K; k++) acc = fmaf(a[i * K + k], b[off[k] + j], acc);
			c[i * ldc + j] = acc;
		}
	}
}

int conv_gemm_level(void) {
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f"))
		return 2;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return 1;
#endif
	return 0;
}

void conv_gemm(int level, long M, long N, long K, const float *a, const float *b, const long *off,
	const float *bias, float *c, long ldc) {
	switch (level) {
#if defined(__x86_64__)
	case 2: gemm512(M, N, K, a, b, off, bias, c, ldc); return;
	case 1: gemm256(M, N, K, a, b, off, bias, c, ldc); return;
#endif
	default: gemm_base(M, N, K, a, b, off, bias, c, ldc);
	}
}
