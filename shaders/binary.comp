#version 450
#extension GL_GOOGLE_include_directive : require
// out = a OP b with numpy broadcasting over rank 4 (broadcast axes have stride 0).
// OP (spec 1): 0 add, 1 sub, 2 mul. With vec set (last axis % 4 == 0) each invocation does
// four consecutive elements of the last axis.
#include "common.glsl"
layout(constant_id = 1) const uint OP = 0;
layout(std430, binding = 0) readonly buffer A_ { float A[]; };
layout(std430, binding = 0) readonly buffer A4_ { vec4 A4[]; };
layout(std430, binding = 1) readonly buffer B_ { float B[]; };
layout(std430, binding = 1) readonly buffer B4_ { vec4 B4[]; };
layout(std430, binding = 2) writeonly buffer C_ { float C[]; };
layout(std430, binding = 2) writeonly buffer C4_ { vec4 C4[]; };
layout(push_constant) uniform P { uvec4 shape; uvec4 as; uvec4 bs; uint n; uint vec; } p;

vec4 op(vec4 a, vec4 b) { return OP == 0u ? a + b : OP == 1u ? a - b : a * b; }

void main() {
	uint g = gidx(), w = p.vec != 0u ? 4u : 1u, i = g * w;
	if (i >= p.n) return;
	uvec4 c;
	c.w = i % p.shape.w; uint r = i / p.shape.w;
	c.z = r % p.shape.z; r /= p.shape.z;
	c.y = r % p.shape.y; c.x = r / p.shape.y;
	uint ia = c.x * p.as.x + c.y * p.as.y + c.z * p.as.z + c.w * p.as.w;
	uint ib = c.x * p.bs.x + c.y * p.bs.y + c.z * p.bs.z + c.w * p.bs.w;
	if (p.vec == 0u) {
		C[i] = op(vec4(A[ia]), vec4(B[ib])).x;
		return;
	}
	vec4 a = p.as.w != 0u ? A4[ia / 4u] : vec4(A[ia]);
	vec4 b = p.bs.w != 0u ? B4[ib / 4u] : vec4(B[ib]);
	C4[g] = op(a, b);
}
