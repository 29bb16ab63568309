// Training-mode batch norm followed by ReLU, y = max(0, (x - mean) * invstd * w + b), and its backward pass, over
// channels-last activations: x is a row-major (rows, C) matrix with rows = N*H*W (an NHWC map, or the tokens of a KAN
// stage). Every kernel runs on blocks of 32 x 8 threads: threadIdx.x picks a channel of the block's tile of 32, so a
// warp reads 32 consecutive floats of one row, and the 8 threadIdx.y lanes with gridDim.y blocks stride over the rows.
// Per channel, the reductions go thread -> block (shared memory, fixed order) -> one partial per block -> a warp per
// channel in double (fixed order): the same input gives the same bits on every run. The passes over the activations
// are templates over their storage type (storage.cu): float, and bfloat16 (entries named _bf16) for bf16 autocast,
// where the convolutions hand over bf16 maps; the statistics and sums are float/double either way.

// The pre-activation, one expression for forward and backward so that both take the same ReLU branch.
__device__ __forceinline__ float bn_pre(float v, float mean, float scale, float shift) {
    return (v - mean) * scale + shift;
}

// Chan et al.'s merge of (count, mean, M2) statistics: (na, ma, qa) absorbs (nb, mb, qb).
template <typename T>
__device__ __forceinline__ void chan_merge(T& na, T& ma, T& qa, T nb, T mb, T qb) {
    T n = na + nb;
    if (nb == T(0)) return;
    T delta = mb - ma, f = nb / n;
    ma += delta * f;
    qa += qb + delta * delta * na * f;
    na = n;
}

// Pass 1 of the forward: per block and channel, (count, mean, M2) of its rows, written to partial[(3*blockIdx.y +
// {0,1,2}) * C + c]. Each thread sums x - k and (x - k)^2 with k its own first value (two FMAs per element, and the
// shift keeps the sums far from cancelling), then the 8 lanes merge in order.
template <typename T>
__device__ __forceinline__ void bn_relu_stats_body(const T* __restrict__ x, long long rows, int C, float* __restrict__ partial) {
    __shared__ float sn[8][32], sm[8][32], sq[8][32];
    int c = blockIdx.x * 32 + threadIdx.x;
    float n = 0.0f, mean = 0.0f, m2 = 0.0f;
    if (c < C) {
        long long r = (long long)blockIdx.y * 8 + threadIdx.y, step = (long long)gridDim.y * 8;
        if (r < rows) {
            float k = to_float(x[r * C + c]), s1 = 0.0f, s2 = 0.0f;
            // Four rows' loads issued before their sums (the sums' order unchanged): one load in flight per thread
            // left the GPU's memory waiting at the 16- and 32-channel layers, where half a warp or a warp reads a row.
            for (; r + 3 * step < rows; r += 4 * step) {
                float d0 = to_float(x[r * C + c]) - k, d1 = to_float(x[(r + step) * C + c]) - k;
                float d2 = to_float(x[(r + 2 * step) * C + c]) - k, d3 = to_float(x[(r + 3 * step) * C + c]) - k;
                s1 += d0; s2 = fmaf(d0, d0, s2);
                s1 += d1; s2 = fmaf(d1, d1, s2);
                s1 += d2; s2 = fmaf(d2, d2, s2);
                s1 += d3; s2 = fmaf(d3, d3, s2);
                n += 4.0f;
            }
            for (; r < rows; r += step) {
                float d = to_float(x[r * C + c]) - k;
                s1 += d;
                s2 = fmaf(d, d, s2);
                n += 1.0f;
            }
            mean = k + s1 / n;
            m2 = fmaxf(s2 - s1 * (s1 / n), 0.0f);
        }
    }
    sn[threadIdx.y][threadIdx.x] = n;
    sm[threadIdx.y][threadIdx.x] = mean;
    sq[threadIdx.y][threadIdx.x] = m2;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int i = 1; i < 8; i++) chan_merge(n, mean, m2, sn[i][threadIdx.x], sm[i][threadIdx.x], sq[i][threadIdx.x]);
        partial[(3LL * blockIdx.y) * C + c] = n;
        partial[(3LL * blockIdx.y + 1) * C + c] = mean;
        partial[(3LL * blockIdx.y + 2) * C + c] = m2;
    }
}
extern "C" __global__ void bn_relu_stats(const float* __restrict__ x, long long rows, int C, float* __restrict__ partial) {
    bn_relu_stats_body(x, rows, C, partial);
}
extern "C" __global__ void bn_relu_stats_bf16(const bf16_t* __restrict__ x, long long rows, int C, float* __restrict__ partial) {
    bn_relu_stats_body(x, rows, C, partial);
}

// Pass 2 of the forward, a block per channel (blockDim.x a multiple of 32, at most 1024): its threads merge the G
// partials in double and in a fixed order (each thread a strided share, then the lanes of each warp by shuffles,
// then the warps' results in turn), write the batch mean and 1/sqrt(var + eps) (biased variance, as batch norm
// normalises with), and move the running statistics by the momentum, the running variance towards the unbiased
// estimate (x n/(n-1)) as torch.nn.BatchNorm2d does; the first thread also counts the batch in num_batches_tracked
// (one launch fewer than a separate add). mean_shift (may be null) is added to the batch mean in the running mean's
// update only: the bias of a convolution that ran without it before this batch norm (Layers/ConvBatchNorm.cs), whose
// output the running mean follows in the reference (an add of its own per layer before). Null buffers are skipped.
// A block rather than one warp per channel: with G = 1,024 partials a warp's 32 dependent merges per lane took ~35 us
// per launch on an H200.
extern "C" __global__ void bn_relu_stats_finalize(const float* __restrict__ partial, int G, int C, float eps, float momentum,
                                                  float* __restrict__ mean_out, float* __restrict__ invstd_out,
                                                  float* __restrict__ running_mean, float* __restrict__ running_var,
                                                  long long* __restrict__ batches_tracked, const float* __restrict__ mean_shift) {
    __shared__ double wn[32], wm[32], wq[32];
    int c = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (c >= C) return;
    if (batches_tracked && c == 0 && threadIdx.x == 0) batches_tracked[0] += 1;
    double n = 0.0, mean = 0.0, m2 = 0.0;
    for (int g = threadIdx.x; g < G; g += blockDim.x)
        chan_merge<double>(n, mean, m2, partial[(3LL * g) * C + c], partial[(3LL * g + 1) * C + c], partial[(3LL * g + 2) * C + c]);
    for (int offset = 16; offset > 0; offset >>= 1) {
        double nb = __shfl_down_sync(0xffffffffu, n, offset);
        double mb = __shfl_down_sync(0xffffffffu, mean, offset);
        double qb = __shfl_down_sync(0xffffffffu, m2, offset);
        chan_merge<double>(n, mean, m2, nb, mb, qb);
    }
    if (lane == 0) { wn[warp] = n; wm[warp] = mean; wq[warp] = m2; }
    __syncthreads();
    if (threadIdx.x != 0) return;
    for (int i = 1; i < (int)(blockDim.x >> 5); i++) chan_merge<double>(n, mean, m2, wn[i], wm[i], wq[i]);
    double var = m2 / n;
    mean_out[c] = (float)mean;
    invstd_out[c] = (float)(1.0 / sqrt(var + (double)eps));
    if (running_mean)
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * (mean + (mean_shift ? (double)mean_shift[c] : 0.0)));
    if (running_var) running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * (m2 / (n - 1.0)));
}

// Pass 3 of the forward: y = ReLU(bn_pre(x)); NaN passes through as torch's ReLU lets it. w, b may be null (1, 0).
// RES: y = ReLU(bn_pre(x)) + res, a residual laid out as x (the KAN blocks' x + layer(norm(x)), whose layer ends in
// this batch norm): the addition's own pass saved. Entries of their own, so that the others run unchanged.
template <typename T, bool RES>
__device__ __forceinline__ void bn_relu_apply_body(const T* __restrict__ x, T* __restrict__ y, long long rows, int C,
                                                   const float* __restrict__ mean, const float* __restrict__ invstd,
                                                   const float* __restrict__ w, const float* __restrict__ b,
                                                   const T* __restrict__ res) {
    int c = blockIdx.x * 32 + threadIdx.x;
    if (c >= C) return;
    float m = mean[c], scale = invstd[c] * (w ? w[c] : 1.0f), shift = b ? b[c] : 0.0f;
#pragma unroll 4
    for (long long r = (long long)blockIdx.y * 8 + threadIdx.y; r < rows; r += (long long)gridDim.y * 8) {
        float v = bn_pre(to_float(x[r * C + c]), m, scale, shift);
        float o = (v > 0.0f || v != v) ? v : 0.0f;
        if (RES) o += to_float(res[r * C + c]);
        y[r * C + c] = from_float<T>(o);
    }
}
extern "C" __global__ void bn_relu_apply(const float* __restrict__ x, float* __restrict__ y, long long rows, int C,
                                         const float* __restrict__ mean, const float* __restrict__ invstd,
                                         const float* __restrict__ w, const float* __restrict__ b) {
    bn_relu_apply_body<float, false>(x, y, rows, C, mean, invstd, w, b, nullptr);
}
extern "C" __global__ void bn_relu_apply_bf16(const bf16_t* __restrict__ x, bf16_t* __restrict__ y, long long rows, int C,
                                              const float* __restrict__ mean, const float* __restrict__ invstd,
                                              const float* __restrict__ w, const float* __restrict__ b) {
    bn_relu_apply_body<bf16_t, false>(x, y, rows, C, mean, invstd, w, b, nullptr);
}
extern "C" __global__ void bn_relu_apply_residual(const float* __restrict__ x, float* __restrict__ y, long long rows, int C,
                                                  const float* __restrict__ mean, const float* __restrict__ invstd,
                                                  const float* __restrict__ w, const float* __restrict__ b,
                                                  const float* __restrict__ res) {
    bn_relu_apply_body<float, true>(x, y, rows, C, mean, invstd, w, b, res);
}
extern "C" __global__ void bn_relu_apply_residual_bf16(const bf16_t* __restrict__ x, bf16_t* __restrict__ y, long long rows, int C,
                                                       const float* __restrict__ mean, const float* __restrict__ invstd,
                                                       const float* __restrict__ w, const float* __restrict__ b,
                                                       const bf16_t* __restrict__ res) {
    bn_relu_apply_body<bf16_t, true>(x, y, rows, C, mean, invstd, w, b, res);
}

// Pass 1 of the backward: with g = dy where the pre-activation is positive (ReLU's gradient) and 0 elsewhere, per
// block and channel the sums of g and of g * (x - mean), at partial[(2*blockIdx.y + {0,1}) * C + c].
template <typename T>
__device__ __forceinline__ void bn_relu_backward_sums_body(const T* __restrict__ x, const T* __restrict__ dy, long long rows, int C,
                                                           const float* __restrict__ mean, const float* __restrict__ invstd,
                                                           const float* __restrict__ w, const float* __restrict__ b,
                                                           float* __restrict__ partial) {
    __shared__ float s1[8][32], s2[8][32];
    int c = blockIdx.x * 32 + threadIdx.x;
    float sg = 0.0f, sgx = 0.0f;
    if (c < C) {
        float m = mean[c], scale = invstd[c] * (w ? w[c] : 1.0f), shift = b ? b[c] : 0.0f;
        long long r = (long long)blockIdx.y * 8 + threadIdx.y, step = (long long)gridDim.y * 8;
        // dy is loaded whatever the mask (a select, not a load behind a branch on x), four rows at a time: the
        // loads do not wait on each other (see pass 1 of the forward); the sums' order is unchanged.
        for (; r + 3 * step < rows; r += 4 * step) {
            float v0 = to_float(x[r * C + c]), v1 = to_float(x[(r + step) * C + c]);
            float v2 = to_float(x[(r + 2 * step) * C + c]), v3 = to_float(x[(r + 3 * step) * C + c]);
            float e0 = to_float(dy[r * C + c]), e1 = to_float(dy[(r + step) * C + c]);
            float e2 = to_float(dy[(r + 2 * step) * C + c]), e3 = to_float(dy[(r + 3 * step) * C + c]);
            float g0 = bn_pre(v0, m, scale, shift) > 0.0f ? e0 : 0.0f, g1 = bn_pre(v1, m, scale, shift) > 0.0f ? e1 : 0.0f;
            float g2 = bn_pre(v2, m, scale, shift) > 0.0f ? e2 : 0.0f, g3 = bn_pre(v3, m, scale, shift) > 0.0f ? e3 : 0.0f;
            sg += g0; sgx = fmaf(g0, v0 - m, sgx);
            sg += g1; sgx = fmaf(g1, v1 - m, sgx);
            sg += g2; sgx = fmaf(g2, v2 - m, sgx);
            sg += g3; sgx = fmaf(g3, v3 - m, sgx);
        }
        for (; r < rows; r += step) {
            float v = to_float(x[r * C + c]), e = to_float(dy[r * C + c]);
            float g = bn_pre(v, m, scale, shift) > 0.0f ? e : 0.0f;
            sg += g;
            sgx = fmaf(g, v - m, sgx);
        }
    }
    s1[threadIdx.y][threadIdx.x] = sg;
    s2[threadIdx.y][threadIdx.x] = sgx;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int i = 1; i < 8; i++) { sg += s1[i][threadIdx.x]; sgx += s2[i][threadIdx.x]; }
        partial[(2LL * blockIdx.y) * C + c] = sg;
        partial[(2LL * blockIdx.y + 1) * C + c] = sgx;
    }
}
extern "C" __global__ void bn_relu_backward_sums(const float* __restrict__ x, const float* __restrict__ dy, long long rows, int C,
                                                 const float* __restrict__ mean, const float* __restrict__ invstd,
                                                 const float* __restrict__ w, const float* __restrict__ b,
                                                 float* __restrict__ partial) {
    bn_relu_backward_sums_body(x, dy, rows, C, mean, invstd, w, b, partial);
}
extern "C" __global__ void bn_relu_backward_sums_bf16(const bf16_t* __restrict__ x, const bf16_t* __restrict__ dy, long long rows, int C,
                                                      const float* __restrict__ mean, const float* __restrict__ invstd,
                                                      const float* __restrict__ w, const float* __restrict__ b,
                                                      float* __restrict__ partial) {
    bn_relu_backward_sums_body(x, dy, rows, C, mean, invstd, w, b, partial);
}

// Pass 2 of the backward, a block per channel as in pass 2 of the forward: dL/db = sum g, dL/dw = invstd * sum g
// (x - mean) (null outputs are skipped), and for pass 3 the two means k[c] = sum g / n and k[C + c] = invstd * sum
// g (x - mean) / n.
extern "C" __global__ void bn_relu_backward_finalize(const float* __restrict__ partial, int G, int C, long long rows,
                                                     const float* __restrict__ invstd, float* __restrict__ grad_w,
                                                     float* __restrict__ grad_b, float* __restrict__ k) {
    __shared__ double w1[32], w2[32];
    int c = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (c >= C) return;
    double sg = 0.0, sgx = 0.0;
    for (int g = threadIdx.x; g < G; g += blockDim.x) {
        sg += partial[(2LL * g) * C + c];
        sgx += partial[(2LL * g + 1) * C + c];
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        sg += __shfl_down_sync(0xffffffffu, sg, offset);
        sgx += __shfl_down_sync(0xffffffffu, sgx, offset);
    }
    if (lane == 0) { w1[warp] = sg; w2[warp] = sgx; }
    __syncthreads();
    if (threadIdx.x != 0) return;
    for (int i = 1; i < (int)(blockDim.x >> 5); i++) { sg += w1[i]; sgx += w2[i]; }
    double is = invstd[c], gw = sgx * is;
    if (grad_b) grad_b[c] = (float)sg;
    if (grad_w) grad_w[c] = (float)gw;
    k[c] = (float)(sg / (double)rows);
    k[C + c] = (float)(gw / (double)rows);
}

// Pass 3 of the backward: dL/dx = w * invstd * (g - mean(g) - xhat * mean(g * xhat)), xhat = (x - mean) * invstd.
template <typename T>
__device__ __forceinline__ void bn_relu_backward_input_body(const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx,
                                                            long long rows, int C, const float* __restrict__ mean,
                                                            const float* __restrict__ invstd, const float* __restrict__ w,
                                                            const float* __restrict__ b, const float* __restrict__ k) {
    int c = blockIdx.x * 32 + threadIdx.x;
    if (c >= C) return;
    float m = mean[c], is = invstd[c], wc = w ? w[c] : 1.0f, scale = is * wc, shift = b ? b[c] : 0.0f;
    float k1 = k[c], k2 = k[C + c], out = wc * is;
    // dy loaded whatever the mask, so that the loads of the unrolled rows do not wait on x (pass 1 of the backward).
#pragma unroll 4
    for (long long r = (long long)blockIdx.y * 8 + threadIdx.y; r < rows; r += (long long)gridDim.y * 8) {
        float v = to_float(x[r * C + c]), e = to_float(dy[r * C + c]);
        float g = bn_pre(v, m, scale, shift) > 0.0f ? e : 0.0f;
        dx[r * C + c] = from_float<T>(out * (g - k1 - (v - m) * is * k2));
    }
}
extern "C" __global__ void bn_relu_backward_input(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx,
                                                  long long rows, int C, const float* __restrict__ mean,
                                                  const float* __restrict__ invstd, const float* __restrict__ w,
                                                  const float* __restrict__ b, const float* __restrict__ k) {
    bn_relu_backward_input_body(x, dy, dx, rows, C, mean, invstd, w, b, k);
}
extern "C" __global__ void bn_relu_backward_input_bf16(const bf16_t* __restrict__ x, const bf16_t* __restrict__ dy, bf16_t* __restrict__ dx,
                                                       long long rows, int C, const float* __restrict__ mean,
                                                       const float* __restrict__ invstd, const float* __restrict__ w,
                                                       const float* __restrict__ b, const float* __restrict__ k) {
    bn_relu_backward_input_body(x, dy, dx, rows, C, mean, invstd, w, b, k);
}
