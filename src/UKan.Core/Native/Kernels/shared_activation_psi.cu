// psi(u) = wb*SiLU(u) + ws*sum_j c_j B_j(u) of ALL U-KAN's shared activation. For a uniform cubic spline at
// most four bases are non-zero at u: those with j in [m-3, m], m = floor((u - t0)/h); each is the cardinal
// cubic above at d = t - j - 2. wb, ws may be null (fixed at 1).
__device__ __forceinline__ int first_tap(float t, int K) {
    float m = floorf(t);
    m = fminf(fmaxf(m, -8.0f), (float)K + 8.0f);       // far outside the grid every tap is invalid anyway
    return (int)m - 3;
}
extern "C" __global__ void psi_forward(const float* __restrict__ u, float* __restrict__ out, long long n,
                                       const float* __restrict__ c, const float* wb, const float* ws,
                                       float t0, float inv_h, int K) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = u[i], t = (v - t0) * inv_h, spline = 0.0f;
    int j0 = first_tap(t, K);
    for (int k = 0; k < 4; ++k) {
        int j = j0 + k;
        if (j >= 0 && j < K) spline += c[j] * cardinal(t - (float)j - 2.0f);
    }
    out[i] = (wb ? *wb : 1.0f) * (v / (1.0f + expf(-v))) + (ws ? *ws : 1.0f) * spline;
}
// Backward of psi. gu (may be null): wb*SiLU'(u)*g, plus ws*s'(u)*g when exact. acc[0..K-1] += ws*sum g*B_j(u)
// (dL/dc), acc[K] += sum g*SiLU(u) (dL/dwb), acc[K+1] += sum g*s(u) (dL/dws): per-thread sums over a grid-stride
// loop, a warp-shuffle and shared-memory reduction per block, one atomicAdd per block and value. K <= 16.
extern "C" __global__ void psi_backward(const float* __restrict__ u, const float* __restrict__ g,
                                        float* __restrict__ gu, long long n, const float* __restrict__ c,
                                        const float* wb, const float* ws, float t0, float inv_h, int K,
                                        int exact, float* __restrict__ acc) {
    __shared__ float block_acc[18];
    if (threadIdx.x < K + 2) block_acc[threadIdx.x] = 0.0f;
    __syncthreads();
    float local[18];
    for (int j = 0; j < K + 2; ++j) local[j] = 0.0f;
    float wbv = wb ? *wb : 1.0f, wsv = ws ? *ws : 1.0f;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = u[i], gi = g[i], t = (v - t0) * inv_h;
        float sig = 1.0f / (1.0f + expf(-v));
        float spline = 0.0f, slope = 0.0f;
        int j0 = first_tap(t, K);
        #pragma unroll
        for (int k = 0; k < 4; ++k) {
            int j = j0 + k;
            if (j >= 0 && j < K) {
                float d = t - (float)j - 2.0f, b = cardinal(d);
                spline += c[j] * b;
                if (exact) slope += c[j] * cardinal_slope(d, inv_h);
                for (int q = 0; q < 16; ++q) if (q == j) local[q] += gi * wsv * b;   // static indices keep local[] in registers
            }
        }
        local[K] += gi * v * sig;
        local[K + 1] += gi * spline;
        if (gu) gu[i] = gi * (wbv * sig * (1.0f + v * (1.0f - sig)) + (exact ? wsv * slope : 0.0f));
    }
    for (int j = 0; j < K + 2; ++j) {
        float x = local[j];
        for (int off = 16; off > 0; off >>= 1) x += __shfl_down_sync(0xffffffffu, x, off);
        if ((threadIdx.x & 31) == 0) atomicAdd(&block_acc[j], x);
    }
    __syncthreads();
    if (threadIdx.x < K + 2) atomicAdd(&acc[threadIdx.x], block_acc[threadIdx.x]);
}
