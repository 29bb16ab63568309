// The second stage of the deterministic reductions over a map (the weight gradients of the 3 x 3 convolutions): a first
// kernel writes G rows of E partial sums (one row per block of its grid), and out[e] = sum over g of partial[g * E + e]
// adds them in a fixed order, without atomics, so that the same inputs give the same bits on the same GPU.
//
// Block (32, L), L a power of two <= 32 (Native/PartialSums.cs picks it): threadIdx.x picks one of 32 consecutive
// elements (coalesced loads), the L lanes take the rows g = ty, ty + L, ... in turn, then a fixed halving tree adds the
// lanes. In double, as the batch norm's merges: the partials' sum then rounds once. Many short lanes rather than one
// thread per element, whose G dependent-latency loads would dominate the launch.
extern "C" __global__ void sum_partial_rows(const float* __restrict__ partial, int G, int E, float* __restrict__ out) {
    __shared__ double sums[32][32];
    int e = (int)blockIdx.x * 32 + (int)threadIdx.x;
    double s = 0.0;
    if (e < E)
        for (int g = (int)threadIdx.y; g < G; g += (int)blockDim.y) s += (double)partial[(long long)g * E + e];
    sums[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    for (int stride = (int)blockDim.y >> 1; stride > 0; stride >>= 1) {
        if ((int)threadIdx.y < stride) sums[threadIdx.y][threadIdx.x] += sums[threadIdx.y + stride][threadIdx.x];
        __syncthreads();
    }
    if (threadIdx.y == 0 && e < E) out[e] = (float)sums[0][threadIdx.x];
}
