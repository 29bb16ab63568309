// y = relu(y + b[c]) in place, over the output of a convolution run without its bias: the tail of every conv -> batch
// norm -> ReLU unit once the batch norm is folded into the convolution for inference. PyTorch runs it as two passes
// (the convolution's broadcast bias add, then ReLU); this is one read and one write of each value. ReLU lets NaN
// through as torch's does (v > 0 || v != v ? v : 0). Arithmetic is in float with b in float32; a bfloat16 map
// (entries named _bf16, storage.cu) is rounded once, at the store.
//
// Geometry. No per-element division: each thread derives its channel once, and everything it then touches has it.
//  - Channels-last: the map is a row-major (rows, C) matrix, rows = N*H*W, walked in units of V consecutive values
//    (V = 4 when C % 4 == 0 and the address allows a 4-value load, else 1), C/V units per row. Threads stride over
//    the units by the grid's size, which the launcher makes a multiple of C/V: a thread's channel (t % (C/V)) is the
//    same on every step and its V biases stay in registers. Consecutive threads take consecutive units (coalesced).
//  - NCHW: grid.x runs over the N*C planes of H*W values (channel = plane % C, one 32-bit modulo per thread) and
//    grid.y x blockDim.x threads stride over one plane in units of V (V = 4 when H*W % 4 == 0 and aligned).

__device__ __forceinline__ float bias_relu_value(float v) { return (v > 0.0f || v != v) ? v : 0.0f; }

// Loads a thread issues before its first store, from units a grid stride apart: all loads come before the stores in
// program order, so they can be in flight together (a store to p[i] would otherwise keep the compiler from moving the
// next unit's load above it).
#define BIAS_RELU_LOADS 4

// V values of storage type T loaded and stored as one access (16 bytes for float x 4, 8 for bfloat16 x 4).
template <typename T, int V>
struct alignas(sizeof(T) * V) bias_relu_pack {
    T v[V];
};

template <typename T, int V>
__device__ __forceinline__ void bias_relu_units(T* __restrict__ y, const float* __restrict__ b, long long units, int cunits) {
    unsigned t = blockIdx.x * blockDim.x + threadIdx.x, step = gridDim.x * blockDim.x;
    int c = (int)(t % (unsigned)cunits) * V;
    float bias[V];
#pragma unroll
    for (int k = 0; k < V; k++) bias[k] = b[c + k];
    bias_relu_pack<T, V>* p = (bias_relu_pack<T, V>*)y;
    for (long long i = t; i < units; i += BIAS_RELU_LOADS * (long long)step) {
        bias_relu_pack<T, V> u[BIAS_RELU_LOADS];
#pragma unroll
        for (int j = 0; j < BIAS_RELU_LOADS; j++)
            if (i + j * (long long)step < units) u[j] = p[i + j * (long long)step];
#pragma unroll
        for (int j = 0; j < BIAS_RELU_LOADS; j++) {
            if (i + j * (long long)step >= units) break;
#pragma unroll
            for (int k = 0; k < V; k++) u[j].v[k] = from_float<T>(bias_relu_value(to_float(u[j].v[k]) + bias[k]));
            p[i + j * (long long)step] = u[j];
        }
    }
}

// Channels-last: units = rows * C / vec, cunits = C / vec, vec 4 or 1 (the launcher checks C and the alignment).
template <typename T>
__device__ __forceinline__ void bias_relu_channels_last_body(T* __restrict__ y, const float* __restrict__ b, long long units, int cunits,
                                                             int vec) {
    if (vec == 4) bias_relu_units<T, 4>(y, b, units, cunits);
    else bias_relu_units<T, 1>(y, b, units, cunits);
}
extern "C" __global__ void bias_relu_channels_last(float* __restrict__ y, const float* __restrict__ b, long long units, int cunits,
                                                   int vec) {
    bias_relu_channels_last_body(y, b, units, cunits, vec);
}
extern "C" __global__ void bias_relu_channels_last_bf16(bf16_t* __restrict__ y, const float* __restrict__ b, long long units, int cunits,
                                                        int vec) {
    bias_relu_channels_last_body(y, b, units, cunits, vec);
}

template <typename T, int V>
__device__ __forceinline__ void bias_relu_plane(T* __restrict__ y, const float* __restrict__ b, int C, int plane_units) {
    float bias = b[blockIdx.x % (unsigned)C];
    bias_relu_pack<T, V>* p = (bias_relu_pack<T, V>*)y + (long long)blockIdx.x * plane_units;
    long long step = (long long)gridDim.y * blockDim.x;
    for (long long i = blockIdx.y * blockDim.x + threadIdx.x; i < plane_units; i += BIAS_RELU_LOADS * step) {
        bias_relu_pack<T, V> u[BIAS_RELU_LOADS];
#pragma unroll
        for (int j = 0; j < BIAS_RELU_LOADS; j++)
            if (i + j * step < plane_units) u[j] = p[i + j * step];
#pragma unroll
        for (int j = 0; j < BIAS_RELU_LOADS; j++) {
            if (i + j * step >= plane_units) break;
#pragma unroll
            for (int k = 0; k < V; k++) u[j].v[k] = from_float<T>(bias_relu_value(to_float(u[j].v[k]) + bias));
            p[i + j * step] = u[j];
        }
    }
}

// NCHW: plane_units = H * W / vec, vec 4 or 1 (the launcher checks H * W and the alignment).
template <typename T>
__device__ __forceinline__ void bias_relu_nchw_body(T* __restrict__ y, const float* __restrict__ b, int C, int plane_units, int vec) {
    if (vec == 4) bias_relu_plane<T, 4>(y, b, C, plane_units);
    else bias_relu_plane<T, 1>(y, b, C, plane_units);
}
extern "C" __global__ void bias_relu_nchw(float* __restrict__ y, const float* __restrict__ b, int C, int plane_units, int vec) {
    bias_relu_nchw_body(y, b, C, plane_units, vec);
}
extern "C" __global__ void bias_relu_nchw_bf16(bf16_t* __restrict__ y, const float* __restrict__ b, int C, int plane_units, int vec) {
    bias_relu_nchw_body(y, b, C, plane_units, vec);
}
