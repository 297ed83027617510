#version 450
// Writes its specialization and push constants so tests can read them back.
layout(local_size_x = 1) in;
layout(constant_id = 0) const uint S0 = 100u;
layout(constant_id = 1) const uint S1 = 200u;
layout(constant_id = 2) const uint S2 = 300u;
layout(set = 0, binding = 0) writeonly buffer Out { uint o[]; };
layout(push_constant) uniform Push { uint p0; uint p1; uint p2; uint p3; };
void main() {
    o[0] = S0; o[1] = S1; o[2] = S2;
    o[3] = p0; o[4] = p1; o[5] = p2; o[6] = p3;
    o[7] = o.length();
}
