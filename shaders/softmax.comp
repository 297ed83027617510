#version 450
#extension GL_GOOGLE_include_directive : require
// Row softmax, one row per invocation: y = exp(s·x − max)/Σ over the first n entries of each
// row of `cols` values, zeros after them: n = valid, or min(valid, limits[row % tq]) with
// limits (attention). Rows of whole vec4s (cols % 4 == 0) are read four at a time.
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X_ { float X[]; };
layout(std430, binding = 0) readonly buffer X4_ { vec4 X4[]; };
layout(std430, binding = 1) writeonly buffer Y_ { float Y[]; };
layout(std430, binding = 1) writeonly buffer Y4_ { vec4 Y4[]; };
layout(std430, binding = 2) readonly buffer L_ { int L[]; };
layout(push_constant) uniform P { uint rows, cols, valid, tq, hasLimits; float scale; } p;

void main() {
	uint row = gidx();
	if (row >= p.rows) return;
	uint base = row * p.cols, n = p.valid;
	if (p.hasLimits != 0u) n = uint(clamp(L[row % p.tq], 0, int(p.valid)));
	uint n4 = p.cols % 4u == 0u ? n / 4u : 0u, b4 = base / 4u; // whole vec4s, then scalars
	float s = p.scale;
	vec4 m4 = vec4(-1.0 / 0.0);
	for (uint j = 0u; j < n4; j++) m4 = max(m4, s * X4[b4 + j]);
	float mx = max(max(m4.x, m4.y), max(m4.z, m4.w));
	for (uint j = 4u * n4; j < n; j++) mx = max(mx, s * X[base + j]);
	vec4 s4 = vec4(0.0);
	for (uint j = 0u; j < n4; j++) s4 += exp(s * X4[b4 + j] - mx);
	float sum = (s4.x + s4.y) + (s4.z + s4.w);
	for (uint j = 4u * n4; j < n; j++) sum += exp(s * X[base + j] - mx);
	float inv = 1.0 / sum;
	for (uint j = 0u; j < n4; j++) Y4[b4 + j] = exp(s * X4[b4 + j] - mx) * inv;
	uint j = 4u * n4;
	for (; j < n; j++) Y[base + j] = exp(s * X[base + j] - mx) * inv;
	for (; j < p.cols && (p.cols % 4u != 0u || j % 4u != 0u); j++) Y[base + j] = 0.0;
	for (; j < p.cols; j += 4u) Y4[(base + j) / 4u] = vec4(0.0);
}
