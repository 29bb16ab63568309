// How the fused kernels store activations: float, or bfloat16 held as its 16 raw bits (bf16_t), so that no CUDA header
// is needed (NVRTC compiles the program alone) and the CPU emulation of the tests compiles it as it is. Arithmetic is
// always in float: a bfloat16 is the upper half of a float32, and storing one rounds to nearest, ties to even, with
// NaN written as 0x7FC0, exactly as torch's float -> bfloat16 conversion (c10::BFloat16) does. A kernel body written
// once as a template over its storage type T gets one extern "C" entry per type (name and name_bf16).
typedef unsigned short bf16_t;

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(bf16_t v) { return __uint_as_float((unsigned)v << 16); }

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ bf16_t from_float<bf16_t>(float v) {
    unsigned u = __float_as_uint(v);
    if (v != v) return (bf16_t)0x7FC0u;
    return (bf16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
