// c[i·ldc + j] = bias[i] (or 0) + Σ_k a[i·K + k]·b[off[k] + j] for i < M, j < N: one FMA chain
// per element in k order. bias may be NULL. level: 2 AVX-512, 1 AVX2+FMA, 0 portable C, at most
// conv_gemm_level() (the best this CPU runs).
int conv_gemm_level(void);
void conv_gemm(int level, long M, long N, long K, const float *a, const float *b, const long *off,
	const float *bias, float *c, long ldc);
