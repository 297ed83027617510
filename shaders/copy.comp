#version 450
#extension GL_GOOGLE_include_directive : require
// Strided copy of a rank-4 region: dst[dstart + c] = src[soff + c·sstride] for c < shape.
// Serves slice, concat, set_slice, permute, same-type cast and transposes.
// ES (spec 1) is the element size: 4 copies one element per invocation; 2 (f16) and 1 (u8)
// make each invocation own one destination word (read-modify-write, no byte races).
#include "common.glsl"
layout(constant_id = 1) const uint ES = 4;
layout(std430, binding = 0) readonly buffer S_ { uint S[]; };
layout(std430, binding = 1) buffer D_ { uint D[]; };
layout(push_constant) uniform P {
	uvec4 shape;     // region shape
	uvec4 dshape;    // destination shape (contiguous)
	uvec4 dstart;    // region start in the destination
	uvec4 sstride;   // source strides of the region axes
	uint n;          // ES 4: elements in the region; else destination words to visit
	uint wbase;      // ES < 4: first destination word
	uint soff;       // source element offset
} p;

uint srcElem(uint i) {
	if (ES == 4u) return S[i];
	if (ES == 2u) return HALF_AT(S, i);
	return BYTE_AT(S, i);
}

void main() {
	uint g = gidx();
	if (g >= p.n) return;
	if (ES == 4u) {
		uvec4 c;
		c.w = g % p.shape.w; g /= p.shape.w;
		c.z = g % p.shape.z; g /= p.shape.z;
		c.y = g % p.shape.y; c.x = g / p.shape.y;
		uvec4 d = c + p.dstart;
		D[((d.x * p.dshape.y + d.y) * p.dshape.z + d.z) * p.dshape.w + d.w] = S[p.soff + c.x * p.sstride.x + c.y * p.sstride.y + c.z * p.sstride.z + c.w * p.sstride.w];
		return;
	}
	uint epw = 4u / ES, bits = ES * 8u, mask = (1u << bits) - 1u;
	uint w = p.wbase + g, word = D[w];
	for (uint e = 0u; e < epw; e++) {
		uint i = w * epw + e;
		uvec4 d; // destination coordinates of element i
		d.w = i % p.dshape.w; uint r = i / p.dshape.w;
		d.z = r % p.dshape.z; r /= p.dshape.z;
		d.y = r % p.dshape.y; d.x = r / p.dshape.y;
		if (d.x >= p.dshape.x || any(lessThan(d, p.dstart)) || any(greaterThanEqual(d - p.dstart, p.shape))) continue;
		uvec4 c = d - p.dstart;
		uint v = srcElem(p.soff + c.x * p.sstride.x + c.y * p.sstride.y + c.z * p.sstride.z + c.w * p.sstride.w);
		word = (word & ~(mask << (e * bits))) | (v << (e * bits));
	}
	D[w] = word;
}
