// KANLinear's fused weight and its backward. The layer contracts per-input features [b(x_i), B_0(x_i), ..., B_{K-1}(x_i)]
// with one weight matrix W (out, in*(1+K)) laid out the same way: W[o, i*(1+K)] = W_b[o, i] and
// W[o, i*(1+K) + 1 + k] = W_s[o, i, k] * s[o, i] (s the standalone spline scaler, or 1 where the layer has none).
// PyTorch builds W as a broadcast multiply and a concatenation, and its backward as slice copies, a multiply and a
// reduction for s: about six launches per layer and step. Here one launch each way serves up to KAN_WEIGHT_LAYERS
// layers at once (a U-KAN has twelve): the layers' pointers and sizes travel by value in the kernel's parameters (a
// table of about 1.1 KB; CUDA allows 4 KB), so a replayed graph holds them like any other argument, and the thread
// range is split between the layers by the prefix sums `first` (elements of W forward, (o, i) pairs backward).

#define KAN_WEIGHT_LAYERS 16

struct KanWeightTable {
    const float* base[KAN_WEIGHT_LAYERS];      // W_b (out, in): forward only
    const float* spline[KAN_WEIGHT_LAYERS];    // W_s (out, in, K)
    const float* scaler[KAN_WEIGHT_LAYERS];    // s (out, in), or null for s = 1
    float* w[KAN_WEIGHT_LAYERS];               // forward: W, written; backward: dL/dW, read (null: no gradient)
    float* grad_base[KAN_WEIGHT_LAYERS];       // backward outputs, each null when not asked for
    float* grad_spline[KAN_WEIGHT_LAYERS];
    float* grad_scaler[KAN_WEIGHT_LAYERS];
    long long first[KAN_WEIGHT_LAYERS + 1];    // the first thread index of each layer; first[count] = the total
    int K[KAN_WEIGHT_LAYERS];
    int count;
};

// The layer whose range holds e (the table has at most 16 entries; a warp's threads agree except at a boundary).
__device__ __forceinline__ int kan_weight_layer(const KanWeightTable& t, long long e) {
    int l = 0;
    while (l + 1 < t.count && e >= t.first[l + 1]) l++;
    return l;
}

// Forward, one thread per element of W (coalesced writes): e = pair * (1+K) + j within its layer, pair = o*in + i.
extern "C" __global__ void kan_weight_assemble(KanWeightTable t) {
    long long total = t.first[t.count];
    for (long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x; g < total; g += (long long)gridDim.x * blockDim.x) {
        int l = kan_weight_layer(t, g), K = t.K[l];
        long long e = g - t.first[l], pair = e / (K + 1);
        int j = (int)(e - pair * (K + 1));
        const float* scaler = t.scaler[l];
        t.w[l][e] = j == 0 ? t.base[l][pair] : t.spline[l][pair * K + j - 1] * (scaler ? scaler[pair] : 1.0f);
    }
}

// Backward, one thread per (o, i) pair: dW_b = dW[.., 0]; dW_s[k] = dW[.., 1+k] * s; ds = sum_k dW[.., 1+k] * W_s[k]
// (in a fixed order). A layer without dL/dW (w null) or outputs not asked for (null) are skipped.
extern "C" __global__ void kan_weight_assemble_backward(KanWeightTable t) {
    long long total = t.first[t.count];
    for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < total; p += (long long)gridDim.x * blockDim.x) {
        int l = kan_weight_layer(t, p), K = t.K[l];
        if (!t.w[l]) continue;
        long long pair = p - t.first[l];
        const float* g = t.w[l] + pair * (K + 1);
        const float* spline = t.spline[l] + pair * K;
        float s = t.scaler[l] ? t.scaler[l][pair] : 1.0f, ds = 0.0f;
        float* grad_spline = t.grad_spline[l];
        if (t.grad_base[l]) t.grad_base[l][pair] = g[0];
        for (int k = 0; k < K; k++) {
            float gk = g[1 + k];
            if (grad_spline) grad_spline[pair * K + k] = gk * s;
            ds = fmaf(gk, spline[k], ds);
        }
        if (t.grad_scaler[l]) t.grad_scaler[l][pair] = ds;
    }
}
