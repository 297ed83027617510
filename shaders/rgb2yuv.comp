#version 450
#extension GL_GOOGLE_include_directive : require
// Planar RGB [1, 3, h, w] (clamped to [0, 1]) -> yuv420p bytes. Each invocation writes one
// whole 32-bit word of the frame (four bytes of Y, U or V), so no two invocations share a word.
// y' = Kr·R + Kg·G + Kb·B, Y = yOff + yScale·y'; chroma = mean over the 2×2 block's pixels of
// 128 + cScale·(B−y')/(2(1−Kb)) (Cb) or (R−y')/(2(1−Kr)) (Cr); rounded half up, clamped.
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 1) writeonly buffer F_ { uint F[]; };
layout(push_constant) uniform P { uint w, h, words; float kr, kb, yOff, yScale, cScale; } p;

vec3 px(uint x, uint y) {
	uint n = p.w * p.h, i = y * p.w + x;
	return clamp(vec3(X[i], X[n + i], X[2u * n + i]), 0.0, 1.0);
}

uint toByte(float v) { return uint(clamp(floor(v + 0.5), 0.0, 255.0)); }

uint byteAt(uint i) {
	uint n = p.w * p.h, cw = (p.w + 1u) / 2u, ch = (p.h + 1u) / 2u;
	float kg = 1.0 - p.kr - p.kb;
	if (i < n) {
		vec3 c = px(i % p.w, i / p.w);
		return toByte(p.yOff + p.yScale * (p.kr * c.r + kg * c.g + p.kb * c.b));
	}
	i -= n;
	bool isV = i >= cw * ch;
	if (isV) i -= cw * ch;
	if (i >= cw * ch) return 0u; // padding after the V plane
	uint bx = (i % cw) * 2u, by = (i / cw) * 2u;
	float s = 0.0, cnt = 0.0;
	for (uint y = by; y < min(by + 2u, p.h); y++)
		for (uint x = bx; x < min(bx + 2u, p.w); x++) {
			vec3 c = px(x, y);
			float l = p.kr * c.r + kg * c.g + p.kb * c.b;
			s += 128.0 + p.cScale * (isV ? (c.r - l) / (2.0 * (1.0 - p.kr)) : (c.b - l) / (2.0 * (1.0 - p.kb)));
			cnt += 1.0;
		}
	return toByte(s / cnt);
}

void main() {
	uint g = gidx();
	if (g >= p.words) return;
	uint v = 0u;
	for (uint b = 0u; b < 4u; b++) v |= byteAt(4u * g + b) << (8u * b);
	F[g] = v;
}
