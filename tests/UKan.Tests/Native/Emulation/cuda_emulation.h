// A test-only emulation of the parts of CUDA's execution model that the project's kernels use, so that their source
// (src/UKan.Core/Native/Kernels/*.cu) compiles with g++ and runs on the CPU: every thread of a block is a std::thread,
// blocks run one after another, __shared__ arrays are function statics (one block at a time uses them), dynamic shared
// memory (`extern __shared__ T name[];`, which the test rewrites to emulated_dynamic_shared) is one buffer per launch,
// __syncthreads() is a barrier of the block, __shfl_sync, __shfl_down_sync and __shfl_xor_sync a barrier of the warp around an
// exchange buffer, mma.sync (m16n8k8, TF32) an exchange of the warp's fragments, and atomicAdd a lock. It checks indexing, reductions and formulas, not speed or the GPU's memory model.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstring>
#include <math.h>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using std::max;
using std::min;

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

#define __global__
#define __launch_bounds__(...)
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
#define __align__(n) alignas(n)

// The bit reinterpretations of CUDA's intrinsics (the bfloat16 storage of Native/Kernels/storage.cu).
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, sizeof f); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, sizeof u); return u; }

struct EmulatedBlock {
    explicit EmulatedBlock(unsigned threads) : block(threads), exchange(threads), mma(6 * (size_t)threads) {
        for (unsigned first = 0; first < threads; first += 32)
            warps.push_back(std::make_unique<std::barrier<>>(threads - first < 32 ? threads - first : 32));
    }
    std::barrier<> block;
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    std::vector<double> exchange;
    std::vector<unsigned> mma;   // each lane's A and B fragments of an emulated mma
};
inline thread_local EmulatedBlock* emulated_block = nullptr;

inline void __syncthreads() { emulated_block->block.arrive_and_wait(); }

inline std::vector<unsigned char> emulated_dynamic_shared;
inline std::mutex emulated_atomics;

inline float atomicAdd(float* address, float value) {
    std::lock_guard<std::mutex> hold(emulated_atomics);
    float old = *address;
    *address = old + value;
    return old;
}

inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
    std::lock_guard<std::mutex> hold(emulated_atomics);
    unsigned long long old = *address;
    *address = old + value;
    return old;
}

// The lock of the atomics orders every access around them here; the GPU needs the fence (step_scores.cu).
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

template <typename T>
T __shfl_down_sync(unsigned, T value, int offset) {
    unsigned t = threadIdx.y * blockDim.x + threadIdx.x, lane = t & 31;
    auto& warp = *emulated_block->warps[t >> 5];
    emulated_block->exchange[t] = (double)value;   // exact for float and double
    warp.arrive_and_wait();
    T result = lane + offset < 32 ? (T)emulated_block->exchange[t + offset] : value;
    warp.arrive_and_wait();
    return result;
}

template <typename T>
T __shfl_xor_sync(unsigned, T value, int mask) {
    unsigned t = threadIdx.y * blockDim.x + threadIdx.x, lane = t & 31;
    auto& warp = *emulated_block->warps[t >> 5];
    emulated_block->exchange[t] = (double)value;
    warp.arrive_and_wait();
    T result = (T)emulated_block->exchange[t - lane + (lane ^ (unsigned)mask)];
    warp.arrive_and_wait();
    return result;
}

template <typename T>
T __shfl_sync(unsigned, T value, int source) {
    unsigned t = threadIdx.y * blockDim.x + threadIdx.x, lane = t & 31;
    auto& warp = *emulated_block->warps[t >> 5];
    emulated_block->exchange[t] = (double)value;   // exact for float, double and 32-bit unsigned
    warp.arrive_and_wait();
    T result = (T)emulated_block->exchange[t - lane + ((unsigned)source & 31u)];
    warp.arrive_and_wait();
    return result;
}

// kernel<<<grid, block, sharedBytes>>>(args...), synchronously. The dynamic shared memory starts as all-ones bytes
// (a NaN in every float), not zeros: on a GPU it holds whatever was there, and a kernel that reads a value it did not
// write must show it.
template <typename Kernel, typename... Args>
void launch_shared(dim3 grid, dim3 block, size_t sharedBytes, Kernel kernel, Args... args) {
    emulated_dynamic_shared.assign(sharedBytes, 0xFF);
    gridDim = grid;
    blockDim = block;
    unsigned threads = block.x * block.y * block.z;
    for (unsigned by = 0; by < grid.y; by++)
        for (unsigned bx = 0; bx < grid.x; bx++) {
            EmulatedBlock sync(threads);
            std::vector<std::thread> pool;
            for (unsigned t = 0; t < threads; t++)
                pool.emplace_back([&, t] {
                    threadIdx = dim3{t % block.x, t / block.x % block.y, t / (block.x * block.y)};
                    blockIdx = dim3{bx, by, 0};
                    emulated_block = &sync;
                    kernel(args...);
                });
            for (auto& thread : pool) thread.join();
        }
}

// kernel<<<grid, block>>>(args...), synchronously.
template <typename Kernel, typename... Args>
void launch(dim3 grid, dim3 block, Kernel kernel, Args... args) {
    launch_shared(grid, block, 0, kernel, args...);
}

// cvt.rna.tf32.f32: v rounded to 10 mantissa bits, to nearest with ties away from zero (NaN and infinity unchanged).
inline unsigned emulated_tf32(float v) {
    unsigned u = __float_as_uint(v);
    if ((u & 0x7F800000u) == 0x7F800000u) return u;
    return (u + 0x1000u) & 0xFFFFE000u;
}

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 d, a, {b0, b1}, d for the calling warp, with the fragment layouts
// of the PTX ISA (g = lane / 4, c = lane % 4): a0 = A[g][c], a1 = A[g + 8][c], a2 = A[g][c + 4], a3 = A[g + 8][c + 4];
// b0 = B[c][g], b1 = B[c + 4][g]; d0 = D[g][2c], d1 = D[g][2c + 1], d2 = D[g + 8][2c], d3 = D[g + 8][2c + 1]. The
// lanes publish their fragments, then each sums its four outputs over k in order (in float: a TF32 product is exact).
// Like the tensor cores, it reads the top 19 bits of each operand (sign, exponent, 10 mantissa bits): an operand that
// is not a TF32 value is truncated.
inline void emulated_mma_m16n8k8_tf32(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    unsigned t = threadIdx.y * blockDim.x + threadIdx.x, lane = t & 31, base = t - lane;
    auto& warp = *emulated_block->warps[t >> 5];
    unsigned* f = emulated_block->mma.data();
    for (int i = 0; i < 4; i++) f[6 * t + i] = a[i] & 0xFFFFE000u;
    f[6 * t + 4] = b0 & 0xFFFFE000u;
    f[6 * t + 5] = b1 & 0xFFFFE000u;
    warp.arrive_and_wait();
    auto A = [&](int r, int k) { return __uint_as_float(f[6 * (base + (r % 8) * 4 + k % 4) + (r >= 8 ? 1 : 0) + (k >= 4 ? 2 : 0)]); };
    auto B = [&](int k, int n) { return __uint_as_float(f[6 * (base + n * 4 + k % 4) + 4 + (k >= 4 ? 1 : 0)]); };
    int g = (int)lane >> 2, c = (int)lane & 3;
    for (int q = 0; q < 4; q++) {
        int r = g + 8 * (q >> 1), n = 2 * c + (q & 1);
        float s = d[q];
        for (int k = 0; k < 8; k++) s += A(r, k) * B(k, n);
        d[q] = s;
    }
    warp.arrive_and_wait();
}
