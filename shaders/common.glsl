// Helpers shared by the kernels (included; not compiled on its own).
// Every kernel's workgroup width is specialization constant 0. It is declared here, before
// gidx() uses gl_WorkGroupSize (declared later, gl_WorkGroupSize would be 1).
layout(local_size_x_id = 0) in;

// Linear workgroup index: large 1-D grids are folded into y by the host.
uint wgid() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
uint gidx() { return wgid() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; }

// Exact IEEE half -> float (subnormals, inf and NaN kept).
float h2f(uint h) {
	uint s = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
	if (e == 0u) return uintBitsToFloat(s | floatBitsToUint(float(m) * 5.9604644775390625e-8));
	if (e == 31u) return uintBitsToFloat(s | 0x7f800000u | (m << 13));
	return uintBitsToFloat(s | ((e + 112u) << 23) | (m << 13));
}

// Float -> IEEE half bits, round to nearest even; overflow gives inf, NaN stays NaN.
uint f2h(float f) {
	uint x = floatBitsToUint(f), s = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
	if (a >= 0x7f800000u) return s | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u);
	if (a >= 0x477ff000u) return s | 0x7c00u; // >= 65520 rounds to inf
	if (a >= 0x38800000u) { // normal half
		uint r = a - 0x38000000u;
		return s | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13);
	}
	uint e = a >> 23; // half subnormal or zero: a = M * 2^(e-150), unit 2^-24
	if (e < 102u) return s; // < 2^-25: rounds to zero
	uint M = (a & 0x7fffffu) | 0x800000u, sh = 126u - e; // 14..24
	uint q = M >> sh, rem = M & ((1u << sh) - 1u), hf = 1u << (sh - 1u);
	return s | (q + ((rem > hf || (rem == hf && (q & 1u) == 1u)) ? 1u : 0u));
}

// Element i of a byte-packed (u8) or half-packed (f16) uint array.
#define BYTE_AT(buf, i) ((buf[(i) >> 2] >> (((i) & 3u) * 8u)) & 0xffu)
#define HALF_AT(buf, i) ((buf[(i) >> 1] >> (((i) & 1u) * 16u)) & 0xffffu)
