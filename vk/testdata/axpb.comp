#version 450
// dst[i] = src[i] * A + b, A a specialization constant, b a push constant.
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint A = 1u;
layout(set = 0, binding = 0) readonly buffer Src { uint src[]; };
layout(set = 0, binding = 1) writeonly buffer Dst { uint dst[]; };
layout(push_constant) uniform Push { uint n; uint b; };
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < n) dst[i] = src[i] * A + b;
}
