#version 450
#extension GL_GOOGLE_include_directive : require
// yuv420p (bytes packed in words) -> planar RGB [1, 3, h, w] clamped to [0, 1]; one pixel each.
// Y' = (Y − yOff)/yScale, Cb/Cr = (C − 128)/cScale, R = Y' + 2(1−Kr)Cr, B = Y' + 2(1−Kb)Cb,
// G = (Y' − Kr·R − Kb·B)/Kg.
#include "common.glsl"
layout(std430, binding = 0) readonly buffer F_ { uint F[]; };
layout(std430, binding = 1) writeonly buffer Y_ { float Y[]; };
layout(push_constant) uniform P { uint w, h; float kr, kb, yOff, yScale, cScale; } p;

void main() {
	uint g = gidx(), n = p.w * p.h;
	if (g >= n) return;
	uint x = g % p.w, y = g / p.w, cw = (p.w + 1u) / 2u, ch = (p.h + 1u) / 2u;
	uint c = (y / 2u) * cw + x / 2u;
	float Yl = (float(BYTE_AT(F, g)) - p.yOff) / p.yScale;
	float cb = (float(BYTE_AT(F, n + c)) - 128.0) / p.cScale;
	float cr = (float(BYTE_AT(F, n + cw * ch + c)) - 128.0) / p.cScale;
	float r = Yl + 2.0 * (1.0 - p.kr) * cr, b = Yl + 2.0 * (1.0 - p.kb) * cb;
	float gr = (Yl - p.kr * r - p.kb * b) / (1.0 - p.kr - p.kb);
	Y[g] = clamp(r, 0.0, 1.0);
	Y[n + g] = clamp(gr, 0.0, 1.0);
	Y[2u * n + g] = clamp(b, 0.0, 1.0);
}
