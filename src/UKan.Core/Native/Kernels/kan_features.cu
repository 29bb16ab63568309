// The cardinal cubic B-spline centred at 0, (relu(2-s)^3 - 4 relu(1-s)^3) / 6 with s = |d|, and its slope in x
// (d = (x - t0)/h - j - 2 for basis j of uniform knots t0 + i*h).
__device__ __forceinline__ float cardinal(float d) {
    float s = fabsf(d), a = fmaxf(2.0f - s, 0.0f), b = fmaxf(1.0f - s, 0.0f);
    return (a * a * a - 4.0f * b * b * b) * (1.0f / 6.0f);
}
__device__ __forceinline__ float cardinal_slope(float d, float inv_h) {
    float s = fabsf(d), a = fmaxf(2.0f - s, 0.0f), b = fmaxf(1.0f - s, 0.0f);
    float dn = (4.0f * b * b - a * a) * 0.5f * inv_h;
    return d < 0.0f ? -dn : dn;
}
// Four floats moved as one 16-byte access (no CUDA header: NVRTC compiles this program alone).
struct __align__(16) kan_f4 { float x, y, z, w; };

// The block's share of a row-major (inputs x (1+K)) float matrix between global memory and the shared tile: `total`
// consecutive floats at `global`, four at a time where it is 16-byte aligned (the block's first input times 1+K floats:
// a multiple of four for the launcher's block sizes) with several accesses in flight per thread (unrolled), then the
// rest one at a time. P = const float: global -> tile; P = float: tile -> global.
template <typename T> struct kan_is_const { static constexpr bool value = false; };
template <typename T> struct kan_is_const<const T> { static constexpr bool value = true; };
template <typename P>
__device__ __forceinline__ void kan_tile_copy(float* __restrict__ tile, P* global, int total) {
    constexpr bool toShared = kan_is_const<P>::value;
    int quads = ((unsigned long long)global & 15) == 0 ? total / 4 : 0;
#pragma unroll 4
    for (int q = threadIdx.x; q < quads; q += blockDim.x) {
        if constexpr (toShared) reinterpret_cast<kan_f4*>(tile)[q] = reinterpret_cast<const kan_f4*>(global)[q];
        else reinterpret_cast<kan_f4*>(global)[q] = reinterpret_cast<const kan_f4*>(tile)[q];
    }
    for (int e = quads * 4 + threadIdx.x; e < total; e += blockDim.x) {
        if constexpr (toShared) tile[e] = global[e];
        else global[e] = tile[e];
    }
}

// Features [SiLU(x), B_0(x) .. B_{K-1}(x)] per input, interleaved. Each thread evaluates the 1+K features of one
// input into a shared-memory tile (stride 1+K words: conflict-free when 1+K is odd, as for the default K = 8), then
// the block stores the tile with consecutive threads writing consecutive values, so every store is coalesced. (One
// thread per output value, the earlier layout, also stored coalesced but paid a 64-bit division per value and
// recomputed the input's position 1+K times: 0.47 of 0.64 ms of KAN-basis time per step on an H200 at 256x256.)
// X is the input's storage type, F the features' (storage.cu): bfloat16 features feed a bf16 product under autocast
// without a cast of the (rows, in*(1+K)) matrix.
template <typename X, typename F>
__device__ __forceinline__ void kan_features_body(const X* __restrict__ x, F* __restrict__ feat, long long n, float t0, float inv_h, int K) {
    extern __shared__ float tile[];
    int width = K + 1;
    long long first = (long long)blockIdx.x * blockDim.x;
    int count = (int)min((long long)blockDim.x, n - first);
    if (threadIdx.x < count) {
        float v = to_float(x[first + threadIdx.x]);
        float* row = tile + threadIdx.x * width;
        row[0] = v / (1.0f + expf(-v));
        float u = (v - t0) * inv_h;
        for (int j = 0; j < K; ++j) row[1 + j] = cardinal(u - (float)j - 2.0f);
    }
    __syncthreads();
    F* dst = feat + first * width;
    if constexpr (sizeof(F) == sizeof(float)) kan_tile_copy(tile, reinterpret_cast<float*>(dst), count * width);
    else
#pragma unroll 4
        for (int e = threadIdx.x; e < count * width; e += blockDim.x) dst[e] = from_float<F>(tile[e]);
}
extern "C" __global__ void kan_features(const float* __restrict__ x, float* __restrict__ feat, long long n, float t0, float inv_h, int K) {
    kan_features_body(x, feat, n, t0, inv_h, K);
}
extern "C" __global__ void kan_features_to_bf16(const float* __restrict__ x, bf16_t* __restrict__ feat, long long n, float t0, float inv_h, int K) {
    kan_features_body(x, feat, n, t0, inv_h, K);
}
extern "C" __global__ void kan_features_bf16(const bf16_t* __restrict__ x, bf16_t* __restrict__ feat, long long n, float t0, float inv_h, int K) {
    kan_features_body(x, feat, n, t0, inv_h, K);
}
// dL/dx = dL/dSiLU * SiLU'(x) + sum_j dL/dB_j * B_j'(x). A block first copies its inputs' 1+K gradients into
// shared memory with consecutive threads reading consecutive values (coalesced), then each thread reduces its own
// row of the tile (stride 1+K words: conflict-free when 1+K is odd, as for the default K = 8). X is the storage type
// of x and of dL/dx, G that of the features' gradient.
template <typename X, typename G>
__device__ __forceinline__ void kan_features_backward_body(const X* __restrict__ x, const G* __restrict__ gfeat, X* __restrict__ gx,
                                                           long long n, float t0, float inv_h, int K) {
    extern __shared__ float tile[];
    int width = K + 1;
    long long first = (long long)blockIdx.x * blockDim.x;
    int count = (int)min((long long)blockDim.x, n - first);
    const G* src = gfeat + first * width;
    // float gradients: 16-byte loads, several in flight per thread (one scalar load at a time left this kernel at a
    // third of the memory system's speed on an H200); bf16 ones one value at a time, unrolled.
    if constexpr (sizeof(G) == sizeof(float)) kan_tile_copy(tile, reinterpret_cast<const float*>(src), count * width);
    else
#pragma unroll 4
        for (int e = threadIdx.x; e < count * width; e += blockDim.x) tile[e] = to_float(src[e]);
    __syncthreads();
    if (threadIdx.x >= count) return;
    long long i = first + threadIdx.x;
    const float* g = tile + threadIdx.x * width;
    float v = to_float(x[i]);
    float sig = 1.0f / (1.0f + expf(-v));
    float acc = g[0] * sig * (1.0f + v * (1.0f - sig));  // d SiLU / dx
    float u = (v - t0) * inv_h;
    for (int j = 0; j < K; ++j) acc += g[1 + j] * cardinal_slope(u - (float)j - 2.0f, inv_h);
    gx[i] = from_float<X>(acc);
}
extern "C" __global__ void kan_features_backward(const float* __restrict__ x, const float* __restrict__ gfeat, float* __restrict__ gx,
                                                 long long n, float t0, float inv_h, int K) {
    kan_features_backward_body(x, gfeat, gx, n, t0, inv_h, K);
}
extern "C" __global__ void kan_features_backward_from_bf16(const float* __restrict__ x, const bf16_t* __restrict__ gfeat, float* __restrict__ gx,
                                                           long long n, float t0, float inv_h, int K) {
    kan_features_backward_body(x, gfeat, gx, n, t0, inv_h, K);
}
extern "C" __global__ void kan_features_backward_bf16(const bf16_t* __restrict__ x, const bf16_t* __restrict__ gfeat, bf16_t* __restrict__ gx,
                                                      long long n, float t0, float inv_h, int K) {
    kan_features_backward_body(x, gfeat, gx, n, t0, inv_h, K);
}
