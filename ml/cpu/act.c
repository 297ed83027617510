// Vectorised activations and softmax: on x86-64 the loops are compiled for AVX-512, AVX2+FMA
// and the baseline and picked at run time. Arithmetic is in double, rounded once to float.
#include "act.h"

// EXP: e^x (~1e-10 relative) for x ≤ 0, clamped at −700 (0 as a float): x = n·ln2 + r with
// |r| ≤ ln2/2, e^r by Taylor to r⁹; n is rounded by the 1.5·2⁵² trick, 2ⁿ built from its bits.
#define EXP(x) ({ \
	double v_ = (x) < -700 ? -700 : (x); \
	double k_ = v_ * 1.4426950408889634 + 6755399441055744.0; \
	double n_ = k_ - 6755399441055744.0; \
	double r_ = v_ - n_ * 0.6931471805599453; \
	double p_ = 1 + r_ * (1 + r_ * (1. / 2 + r_ * (1. / 6 + r_ * (1. / 24 + r_ * (1. / 120 + \
		r_ * (1. / 720 + r_ * (1. / 5040 + r_ * (1. / 40320 + r_ * (1. / 362880))))))))); \
	union { double d; unsigned long long u; } k2_ = {k_}, s_; \
	s_.u = (k2_.u + 1023) << 52; \
	p_ * s_.d; })

// ERFC_POS: erfc(z) for z ≥ 0, fractional error < 1.2e-7 (Numerical Recipes erfcc, as the
// Vulkan kernel), so x·Φ(x) keeps its relative accuracy deep in the negative tail.
#define ERFC_POS(z) ({ \
	double t_ = 1 / (1 + 0.5 * (z)); \
	t_ * EXP(-(z) * (z) - 1.26551223 + t_ * (1.00002368 + t_ * (0.37409196 + t_ * (0.09678418 + \
		t_ * (-0.18628806 + t_ * (0.27886807 + t_ * (-1.13520398 + t_ * (1.48851587 + \
		t_ * (-0.82215223 + t_ * 0.17087277))))))))); })

#define DEFINE(suffix, attrs) \
	attrs static void act_gelu_##suffix(const float *x, float *y, long n) { \
		for (long i = 0; i < n; i++) { \
			double v = x[i], q = 0.5 * ERFC_POS((v < 0 ? -v : v) * 0.7071067811865476); \
			y[i] = (float)(v * (v < 0 ? q : 1 - q)); /* x·Φ(x), Φ(x) = erfc(−x/√2)/2 */ \
		} \
	} \
	attrs static void act_silu_##suffix(const float *x, float *y, long n) { \
		for (long i = 0; i < n; i++) { \
			double v = x[i], a = v < 0 ? v : -v, e = EXP(a); /* e^−|v| */ \
			y[i] = (float)(v < 0 ? v * e / (1 + e) : v / (1 + e)); \
		} \
	} \
	attrs static void act_softmax_##suffix(const float *x, float *y, long n) { \
		float mx = x[0]; \
		for (long i = 1; i < n; i++) \
			mx = x[i] > mx ? x[i] : mx; \
		for (long i = 0; i < n; i++) \
			y[i] = (float)EXP((double)(x[i] - mx)); \
		double acc[8] = {0}, sum = 0; /* 8 lanes, so the sum vectorises too */ \
		long i = 0; \
		for (; i + 8 <= n; i += 8) \
			for (int j = 0; j < 8; j++) \
				acc[j] += y[i + j]; \
		for (; i < n; i++) \
			sum += y[i]; \
		for (int j = 0; j < 8; j++) \
			sum += acc[j]; \
		float inv = (float)(1 / sum); \
		for (long i = 0; i < n; i++) \
			y[i] *= inv; \
	}

#if defined(__x86_64__)
DEFINE(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
DEFINE(avx2, __attribute__((target("avx2,fma"))))
DEFINE(base, )

static int level(void) {
	if (__builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
		return 2;
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#define DISPATCH(name, args, call) \
	void name args { \
		switch (level()) { \
		case 2: name##_avx512 call; break; \
		case 1: name##_avx2 call; break; \
		default: name##_base call; \
		} \
	}
#else
DEFINE(base, )
#define DISPATCH(name, args, call) \
	void name args { name##_base call; }
#endif

DISPATCH(act_gelu, (const float *x, float *y, long n), (x, y, n))
DISPATCH(act_silu, (const float *x, float *y, long n), (x, y, n))
DISPATCH(act_softmax, (const float *x, float *y, long n), (x, y, n))
