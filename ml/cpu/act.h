void act_gelu(const float *x, float *y, long n);
void act_silu(const float *x, float *y, long n);
void act_softmax(const float *x, float *y, long n); // one row; x and y may alias
