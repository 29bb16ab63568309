// KANLinear's fused weight and its backward. The layer contracts per-input features [b(x_i), B_0(x_i), ..., B_{K-1}(x_i)]
// with one weight matrix W (out, in*(1+K)) laid out the same way: W[o, i*(1+K)] = W_b[o, i] and
// W[o, i*(1+K) + 1 + k] = W_s[o, i, k] * s[o, i] (s the standalone spline scaler, or 1 where the layer has none).
// PyTorch builds W as a broadcast multiply and a concatenation, and its backward as slice copies, a multiply and a
// reduction for s: about six launches per layer and step; here one launch each way.

// Forward, one thread per element of W (coalesced writes): e = pair * (1+K) + j, pair = o*in + i.
extern "C" __global__ void kan_weight_assemble(const float* __restrict__ base, const float* __restrict__ spline,
                                               const float* __restrict__ scaler, float* __restrict__ w,
                                               long long pairs, int K) {
    long long total = pairs * (K + 1);
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        long long pair = e / (K + 1);
        int j = (int)(e - pair * (K + 1));
        w[e] = j == 0 ? base[pair] : spline[pair * K + j - 1] * (scaler ? scaler[pair] : 1.0f);
    }
}

// Backward, one thread per (o, i) pair: dW_b = dW[.., 0]; dW_s[k] = dW[.., 1+k] * s; ds = sum_k dW[.., 1+k] * W_s[k]
// (in a fixed order). Null outputs are skipped.
extern "C" __global__ void kan_weight_assemble_backward(const float* __restrict__ grad_w, const float* __restrict__ spline,
                                                        const float* __restrict__ scaler, float* __restrict__ grad_base,
                                                        float* __restrict__ grad_spline, float* __restrict__ grad_scaler,
                                                        long long pairs, int K) {
    for (long long pair = (long long)blockIdx.x * blockDim.x + threadIdx.x; pair < pairs; pair += (long long)gridDim.x * blockDim.x) {
        const float* g = grad_w + pair * (K + 1);
        float s = scaler ? scaler[pair] : 1.0f, ds = 0.0f;
        if (grad_base) grad_base[pair] = g[0];
        for (int k = 0; k < K; k++) {
            float gk = g[1 + k];
            if (grad_spline) grad_spline[pair * K + k] = gk * s;
            ds = fmaf(gk, spline[pair * K + k], ds);
        }
        if (grad_scaler) grad_scaler[pair] = ds;
    }
}
