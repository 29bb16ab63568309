// One Adam (Kingma & Ba 2015) or AdamW (Loshchilov & Hutter 2019) step over a parameter group's flat buffers, each
// element read once and written once: p, g, m, v in, p, m, v out (the torch formulation in Training/FlatAdam.cs runs
// the same update as about eight element-wise kernels per group, each a pass over the buffers). As PyTorch's
// single-tensor Adam: coupled weight decay g += wd p (Adam) or decoupled p *= 1 - lr wd (AdamW); m <- m + (1 - b1)
// (g - m); v <- b2 v + (1 - b2) g^2; p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
// lr and t come from device scalars when lr_at / step_at are not null (a step recorded in a CUDA graph reads the
// values of its replay), else from lr / step. The constants come from the host as the formulation uses them: log b1,
// log b2 and 1 - b1, 1 - b2 rounded from double, b2 and eps.
extern "C" __global__ void adam_step(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                                     float* __restrict__ v, long long n, const float* __restrict__ lr_at, float lr,
                                     const float* __restrict__ step_at, float step, float log_beta1, float log_beta2,
                                     float one_minus_beta1, float beta2, float one_minus_beta2, float eps,
                                     float weight_decay, int decoupled) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float rate = lr_at ? *lr_at : lr, t = step_at ? *step_at : step;
    // The bias corrections as the formulation's capturable branch computes them: 1 - exp(t log b).
    float bias1 = 1.0f - expf(t * log_beta1), bias2_sqrt = sqrtf(1.0f - expf(t * log_beta2));
    float param = p[i], grad = g[i];
    if (decoupled) param *= 1.0f - rate * weight_decay;
    else if (weight_decay != 0.0f) grad += weight_decay * param;
    float mean = m[i];
    mean += one_minus_beta1 * (grad - mean);
    float square = beta2 * v[i] + one_minus_beta2 * grad * grad;
    float denom = sqrtf(square) / bias2_sqrt + eps;
    p[i] = param - (rate / bias1) * (mean / denom);
    m[i] = mean;
    v[i] = square;
}
