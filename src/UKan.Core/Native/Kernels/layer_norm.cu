// LayerNorm over the last dimension of a row-major (rows, C) matrix (the tokens of U-KAN's KAN stages), with affine
// weight w and bias b: y = (x - mean) * rstd * w + b, rstd = 1/sqrt(var + eps), var the biased variance of the row, as
// torch.nn.LayerNorm computes it. An optional input bias ib (C, or null) is added to every row first: the patch
// embedding's convolution bias, so that the convolution runs without it (LayerNorm(conv(x) + ib) in one pass, and
// dL/dib, the column sums of dL/dx, formed with the other parameters' gradients). A warp takes a row: each lane keeps its columns lane, lane + 32, ... (C <= 32 *
// LN_PER_LANE) in registers, so the row is read once; mean and variance are two passes over those registers (no
// cancellation), reduced by butterfly shuffles (the same order on every run). x is stored as float or bfloat16
// (storage.cu; under bf16 autocast the patch embedding's convolution hands over bf16 tokens, and autocast runs
// LayerNorm in float32), y and the gradients of w and b are float32, dL/dx is stored as x.
#define LN_PER_LANE 16

__device__ __forceinline__ float ln_warp_sum(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// Forward: a warp per row, blockDim.x / 32 rows per block. Writes y, and the row's mean and rstd for the backward. IB:
// with the input bias (its own entries, so that the layers without one run the code they ran before: a runtime test
// and the bias's registers slowed every launch by 5-70 % on an H200).
template <typename T, bool IB>
__device__ __forceinline__ void layer_norm_forward_body(const T* __restrict__ x, float* __restrict__ y, const float* __restrict__ w,
                                                        const float* __restrict__ b, const float* __restrict__ ib,
                                                        float* __restrict__ mean_out, float* __restrict__ rstd_out, long long rows,
                                                        int C, float eps) {
    int lane = threadIdx.x & 31;
    long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const T* xr = x + row * C;
    float v[LN_PER_LANE], s = 0.0f;
#pragma unroll
    for (int i = 0; i < LN_PER_LANE; ++i) {
        int c = lane + 32 * i;
        v[i] = c < C ? to_float(xr[c]) + (IB ? ib[c] : 0.0f) : 0.0f;
        s += v[i];
    }
    float mean = ln_warp_sum(s) / (float)C, q = 0.0f;
#pragma unroll
    for (int i = 0; i < LN_PER_LANE; ++i) {
        float d = lane + 32 * i < C ? v[i] - mean : 0.0f;
        q = fmaf(d, d, q);
    }
    float rstd = 1.0f / sqrtf(ln_warp_sum(q) / (float)C + eps);
    float* yr = y + row * C;
#pragma unroll
    for (int i = 0; i < LN_PER_LANE; ++i) {
        int c = lane + 32 * i;
        if (c < C) yr[c] = (v[i] - mean) * rstd * w[c] + b[c];
    }
    if (lane == 0) { mean_out[row] = mean; rstd_out[row] = rstd; }
}
extern "C" __global__ void layer_norm_forward(const float* __restrict__ x, float* __restrict__ y, const float* __restrict__ w,
                                              const float* __restrict__ b, float* __restrict__ mean, float* __restrict__ rstd,
                                              long long rows, int C, float eps) {
    layer_norm_forward_body<float, false>(x, y, w, b, nullptr, mean, rstd, rows, C, eps);
}
extern "C" __global__ void layer_norm_forward_bf16(const bf16_t* __restrict__ x, float* __restrict__ y, const float* __restrict__ w,
                                                   const float* __restrict__ b, float* __restrict__ mean, float* __restrict__ rstd,
                                                   long long rows, int C, float eps) {
    layer_norm_forward_body<bf16_t, false>(x, y, w, b, nullptr, mean, rstd, rows, C, eps);
}
extern "C" __global__ void layer_norm_forward_in_bias(const float* __restrict__ x, float* __restrict__ y, const float* __restrict__ w,
                                                      const float* __restrict__ b, const float* __restrict__ ib, float* __restrict__ mean,
                                                      float* __restrict__ rstd, long long rows, int C, float eps) {
    layer_norm_forward_body<float, true>(x, y, w, b, ib, mean, rstd, rows, C, eps);
}
extern "C" __global__ void layer_norm_forward_in_bias_bf16(const bf16_t* __restrict__ x, float* __restrict__ y, const float* __restrict__ w,
                                                           const float* __restrict__ b, const float* __restrict__ ib, float* __restrict__ mean,
                                                           float* __restrict__ rstd, long long rows, int C, float eps) {
    layer_norm_forward_body<bf16_t, true>(x, y, w, b, ib, mean, rstd, rows, C, eps);
}

// Backward, pass 1: a warp per row as forward, rows strided over the grid. With xhat = (x + ib - mean) * rstd and
// wg = w * g: dL/dx = rstd * (wg - mean(wg) - xhat * mean(wg * xhat)). Each lane also sums g * xhat and g over its rows
// for its columns (the gradients of w and b), and dL/dx with an input bias (its gradient); the block's warps add theirs
// in order through shared memory (P x warps x C floats, dynamic; P = 3 with ib, else 2), one partial per block at
// partial[(P * blockIdx.x + {0, 1, 2}) * C + c].
template <typename T, bool IB>
__device__ __forceinline__ void layer_norm_backward_body(const T* __restrict__ x, const float* __restrict__ g,
                                                         const float* __restrict__ mean, const float* __restrict__ rstd,
                                                         const float* __restrict__ w, const float* __restrict__ ib,
                                                         T* __restrict__ dx, float* __restrict__ partial, long long rows, int C) {
    extern __shared__ float ln_acc[];
    constexpr int P = IB ? 3 : 2;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    float dw[LN_PER_LANE], db[LN_PER_LANE], dib[LN_PER_LANE];
#pragma unroll
    for (int i = 0; i < LN_PER_LANE; ++i) { dw[i] = 0.0f; db[i] = 0.0f; dib[i] = 0.0f; }
    for (long long row = (long long)blockIdx.x * warps + warp; row < rows; row += (long long)gridDim.x * warps) {
        const T* xr = x + row * C;
        const float* gr = g + row * C;
        float m = mean[row], r = rstd[row], xh[LN_PER_LANE], wg[LN_PER_LANE], s1 = 0.0f, s2 = 0.0f;
#pragma unroll
        for (int i = 0; i < LN_PER_LANE; ++i) {
            int c = lane + 32 * i;
            float gv = c < C ? gr[c] : 0.0f;
            xh[i] = c < C ? (to_float(xr[c]) + (IB ? ib[c] : 0.0f) - m) * r : 0.0f;
            wg[i] = c < C ? gv * w[c] : 0.0f;
            s1 += wg[i];
            s2 = fmaf(wg[i], xh[i], s2);
            dw[i] = fmaf(gv, xh[i], dw[i]);
            db[i] += gv;
        }
        float k1 = ln_warp_sum(s1) / (float)C, k2 = ln_warp_sum(s2) / (float)C;
        T* dxr = dx + row * C;
#pragma unroll
        for (int i = 0; i < LN_PER_LANE; ++i) {
            int c = lane + 32 * i;
            float d = r * (wg[i] - k1 - xh[i] * k2);
            if (c < C) dxr[c] = from_float<T>(d);
            if (IB) dib[i] += c < C ? d : 0.0f;
        }
    }
#pragma unroll
    for (int i = 0; i < LN_PER_LANE; ++i) {
        int c = lane + 32 * i;
        if (c < C) {
            ln_acc[(P * warp) * C + c] = dw[i];
            ln_acc[(P * warp + 1) * C + c] = db[i];
            if (IB) ln_acc[(P * warp + 2) * C + c] = dib[i];
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float sw = 0.0f, sb = 0.0f, si = 0.0f;
        for (int k = 0; k < warps; ++k) {
            sw += ln_acc[(P * k) * C + c];
            sb += ln_acc[(P * k + 1) * C + c];
            if (IB) si += ln_acc[(P * k + 2) * C + c];
        }
        partial[((long long)P * blockIdx.x) * C + c] = sw;
        partial[((long long)P * blockIdx.x + 1) * C + c] = sb;
        if (IB) partial[((long long)P * blockIdx.x + 2) * C + c] = si;
    }
}
extern "C" __global__ void layer_norm_backward(const float* __restrict__ x, const float* __restrict__ g, const float* __restrict__ mean,
                                               const float* __restrict__ rstd, const float* __restrict__ w, float* __restrict__ dx,
                                               float* __restrict__ partial, long long rows, int C) {
    layer_norm_backward_body<float, false>(x, g, mean, rstd, w, nullptr, dx, partial, rows, C);
}
extern "C" __global__ void layer_norm_backward_bf16(const bf16_t* __restrict__ x, const float* __restrict__ g, const float* __restrict__ mean,
                                                    const float* __restrict__ rstd, const float* __restrict__ w, bf16_t* __restrict__ dx,
                                                    float* __restrict__ partial, long long rows, int C) {
    layer_norm_backward_body<bf16_t, false>(x, g, mean, rstd, w, nullptr, dx, partial, rows, C);
}
extern "C" __global__ void layer_norm_backward_in_bias(const float* __restrict__ x, const float* __restrict__ g, const float* __restrict__ mean,
                                                       const float* __restrict__ rstd, const float* __restrict__ w, const float* __restrict__ ib,
                                                       float* __restrict__ dx, float* __restrict__ partial, long long rows, int C) {
    layer_norm_backward_body<float, true>(x, g, mean, rstd, w, ib, dx, partial, rows, C);
}
extern "C" __global__ void layer_norm_backward_in_bias_bf16(const bf16_t* __restrict__ x, const float* __restrict__ g, const float* __restrict__ mean,
                                                            const float* __restrict__ rstd, const float* __restrict__ w, const float* __restrict__ ib,
                                                            bf16_t* __restrict__ dx, float* __restrict__ partial, long long rows, int C) {
    layer_norm_backward_body<bf16_t, true>(x, g, mean, rstd, w, ib, dx, partial, rows, C);
}

// Backward, pass 2: dL/dw, dL/db and (dib not null: the partials have P = 3 rows per block) dL/dib, the G blocks'
// partials added in double in a fixed order by blocks of 32 x 8 threads: thread (x, y) takes column blockIdx.x * 32 + x
// of partials y, y + 8, ..., then the 8 threads of a column in turn. (A thread per column adding all G in turn waited on
// one load after another: 15 us a launch on an H200.)
extern "C" __global__ void layer_norm_backward_params(const float* __restrict__ partial, int G, int C, float* __restrict__ dw,
                                                      float* __restrict__ db, float* __restrict__ dib) {
    __shared__ double tw[8][32], tb[8][32], ti[8][32];
    int c = blockIdx.x * 32 + threadIdx.x, P = dib ? 3 : 2;
    double sw = 0.0, sb = 0.0, si = 0.0;
    if (c < C)
        for (int k = threadIdx.y; k < G; k += 8) {
            sw += partial[((long long)P * k) * C + c];
            sb += partial[((long long)P * k + 1) * C + c];
            if (dib) si += partial[((long long)P * k + 2) * C + c];
        }
    tw[threadIdx.y][threadIdx.x] = sw;
    tb[threadIdx.y][threadIdx.x] = sb;
    ti[threadIdx.y][threadIdx.x] = si;
    __syncthreads();
    if (threadIdx.y != 0 || c >= C) return;
    for (int i = 1; i < 8; i++) { sw += tw[i][threadIdx.x]; sb += tb[i][threadIdx.x]; si += ti[i][threadIdx.x]; }
    dw[c] = (float)sw;
    db[c] = (float)sb;
    if (dib) dib[c] = (float)si;
}
