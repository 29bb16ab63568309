// The float32 products of the KAN layers on the tensor cores at float32 accuracy ("3xTF32", the split NVIDIA's CUTLASS
// calls fast-accurate float32 emulation): each operand value v is split into v_hi, v truncated to TF32's 10 mantissa
// bits, and v_lo = v - v_hi (exact in float32, below 2^-10 of v), and a * b is accumulated as a_lo * b_hi + a_hi * b_lo
// + a_hi * b_hi with mma.sync m16n8k8, whose TF32 operands are the top 19 bits of a float32 register (v_lo enters
// truncated too); the dropped a_lo * b_lo and the truncations are below 2^-20 of a * b. Measured on an H200 against
// float64 (docs/results.md §2u): 0.6-0.9e-6 of the largest value on KANLinear's products at 8,192 x 256 and 32,768 x 128,
// where cuBLAS's float32 has 0.7-1.4e-6 and a single TF32 product about 1e-3, so PyTorch's default of float32 products
// is kept in accuracy while the work moves from the CUDA cores (67 TFLOP/s of float32 on an H200) to the tensor cores.
// v_hi rounded to nearest instead halves that error (0.3-0.5e-6) for an add more a value: 1-8 % slower; both parts
// rounded with cvt.rna.tf32 (two conversions a value, §2t) another 10-18 % slower. mma.sync reaches only a part of Hopper's tensor-core rate
// (its warpgroup MMA, not used here, the rest). mma.sync's fragment layouts and the emulation the CPU tests use:
// small_conv.cu's header (conv_mma; TF32 mma exists from sm_80 on, where the host alone takes these kernels).
//
// C (M x N, row-major) = A (M x K) . B (K x N) with the operand layouts and arguments of kan_product.cu (nt, tn, nn;
// split reduction: grid.y = S slices of kChunk, slice s writes C + s*M*N, the caller adds them in a fixed order). A block
// of (BM/WR) x (BN/32) warps computes a BM x BN tile, each warp WR x 32 of it (WR = 64 or 32: 4 or 2 m16 tiles by four
// n8 tiles). The reduction runs in steps of KAN_TC_STEP through a ring of KAN_TC_STAGES shared buffers filled by
// cp.async (global -> shared without registers, zero-filled past M and N), so that three steps' loads are in flight
// while one is multiplied. Each buffer keeps its operand in the order of global memory: along k ([row][BK + 4]) or
// along the rows ([BK][rows + 8]); both paddings put the fragment reads of a warp (rows g, k c; lane = 4g + c) on 32
// distinct banks. Requirements (Native/KanProductKernels.cs): M, N, lda, ldb multiples of 4, 16-byte aligned operands,
// K and kChunk multiples of KAN_TC_STEP, every slice non-empty.

// The reduction's step and ring of the product tiles and of the input gradient, whose reduction is a layer's outputs
// (128 to 512 in U-KAN). Measured on an H200 (scripts/experiments/kan_tc_lab.py, docs/runs/kan-tc-lab-h200): the
// products in steps of 16 were 2-17 % slower than in 32 (a flush per 16, kan_tc_product, and twice the barriers), in
// a ring of 3 up to 5 % slower; the input gradient in steps of 32 spilled registers and was 8-12 % slower, in a ring
// of 4 3-5 % slower than in 3. Native/KanProductKernels.cs sizes the rings from the same numbers.
// (The lab compiles variants by defining these first.)
#ifndef KAN_TC_STEP
#define KAN_TC_STEP 32
#endif
#ifndef KAN_TC_STAGES
#define KAN_TC_STAGES 4
#endif
#ifndef KAN_TC_GRAD_STEP
#define KAN_TC_GRAD_STEP 16
#endif
#ifndef KAN_TC_GRAD_STAGES
#define KAN_TC_GRAD_STAGES 3
#endif
// Threads per multiprocessor the product tiles' launch bounds ask room for: 256 (one block of 256 threads or two of
// 128, up to 255 registers a thread). At 512 (128 registers) they were 5-11 % slower.
#ifndef KAN_TC_SM_THREADS
#define KAN_TC_SM_THREADS 256
#endif

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
// 16 bytes global -> shared, asynchronously; zeros where !valid (src-size 0: nothing is read).
__device__ __forceinline__ void kan_tc_copy16(float* shared, const float* global, bool valid) {
    unsigned s = (unsigned)__cvta_generic_to_shared(shared);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(s), "l"(global), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void kan_tc_commit() { asm volatile("cp.async.commit_group;"); }
// Waits until at most PENDING groups of this thread's copies are still in flight.
template <int PENDING>
__device__ __forceinline__ void kan_tc_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(PENDING)); }
#else
// Synchronous copies (the CPU emulation of the tests; GPUs before sm_80 have no cp.async).
__device__ __forceinline__ void kan_tc_copy16(float* shared, const float* global, bool valid) {
    for (int i = 0; i < 4; i++) shared[i] = valid ? global[i] : 0.f;
}
__device__ __forceinline__ void kan_tc_commit() {}
template <int PENDING>
__device__ __forceinline__ void kan_tc_wait() {}
#endif

// The shared layout of one operand's buffer for steps of BK: ALONG_K, [R rows][BK + 4] (k contiguous); else [BK][R + 8].
template <int R, bool ALONG_K, int BK>
struct kan_tc_operand {
    static constexpr int DEPTH = BK;
    static constexpr int FLOATS = ALONG_K ? R * (BK + 4) : BK * (R + 8);
    __device__ __forceinline__ static int at(int row, int k) { return ALONG_K ? row * (BK + 4) + k : k * (R + 8) + row; }

    // A thread's share of the copies of this operand's step tiles (R rows x BK k, 16 bytes a copy) among T
    // threads, set up once for the block's rows `first` (out of `count`, zeros past it) and the slice from reduction
    // index k0; copy(tile, s) starts step s's. Where the tile divides evenly (the product tiles), each thread's copies
    // keep one row (along the rows) or one k offset (along k) and lie a fixed stride apart, so that a step's copies
    // cost an add each; else (the input gradient's W tile) they are dealt round and placed per step.
    template <int T>
    struct loader {
        static constexpr int CHUNKS = ALONG_K ? BK / 4 : R / 4;   // copies across the contiguous side
        static constexpr int COPIES = R * BK / 4, EACH = (COPIES + T - 1) / T;
        static constexpr bool EVEN = COPIES % T == 0 && T % CHUNKS == 0;
        static_assert(EACH <= 32, "a bit of `valid` per copy");
        const float* __restrict__ base;
        const float* __restrict__ first_copy;   // EVEN: the thread's first copy at the slice's start
        long long ld, stride;                    // EVEN: between the thread's copies
        int first, count, t, shared0;
        unsigned valid;                          // EVEN: bit i, copy i inside the operand
        long long k0;

        __device__ __forceinline__ loader(const float* __restrict__ base_, long long ld_, int first_, int count_, long long k0_, int t_)
            : base(base_), first_copy(base_), ld(ld_), stride(0), first(first_), count(count_), t(t_), shared0(0), valid(0), k0(k0_) {
            if constexpr (EVEN) {
                int row, kk;   // the first copy's
                if (ALONG_K) row = t / CHUNKS, kk = (t % CHUNKS) * 4;
                else kk = t / CHUNKS, row = (t % CHUNKS) * 4;
                first_copy = ALONG_K ? base + (long long)(first + row) * ld + k0 + kk : base + (k0 + kk) * ld + first + row;
                stride = (long long)(T / CHUNKS) * ld;   // the next copy's row (along k) or k (along the rows)
                shared0 = at(row, kk);
#pragma unroll
                for (int i = 0; i < EACH; i++)
                    if (first + (ALONG_K ? row + i * (T / CHUNKS) : row) < count) valid |= 1u << i;
            }
        }

        __device__ __forceinline__ void copy(float* tile, int s) const {
            if constexpr (EVEN) {
                constexpr int SHARED_STRIDE = ALONG_K ? (T / CHUNKS) * (BK + 4) : (T / CHUNKS) * (R + 8);
                const float* src = first_copy + (ALONG_K ? (long long)s * BK : (long long)s * BK * ld);
#pragma unroll
                for (int i = 0; i < EACH; i++) {
                    bool ok = (valid >> i) & 1u;
                    kan_tc_copy16(tile + shared0 + i * SHARED_STRIDE, ok ? src + i * stride : base, ok);
                }
            } else {
                long long k = k0 + (long long)s * BK;
#pragma unroll
                for (int i = 0; i < EACH; i++) {
                    int f = t + i * T;
                    if (COPIES % T != 0 && f >= COPIES) break;
                    int row, kk;
                    if (ALONG_K) row = f / CHUNKS, kk = (f % CHUNKS) * 4;
                    else kk = f / CHUNKS, row = (f % CHUNKS) * 4;
                    bool ok = first + row < count;   // count is a multiple of 4: a copy along the rows is all in or all out
                    const float* src = ALONG_K ? base + (long long)(first + row) * ld + k + kk : base + (k + kk) * ld + first + row;
                    kan_tc_copy16(tile + at(row, kk), ok ? src : base, ok);
                }
            }
        }
    };
};

// v split into v_hi (v truncated to TF32) and v_lo = v - v_hi, exact in float32; the tensor cores read v_lo's top 19
// bits. One and, one subtraction.
__device__ __forceinline__ void kan_tc_split(float v, unsigned& hi, unsigned& lo) {
#ifdef KAN_TC_SPLIT_ROUND   // the lab's comparison: v_hi rounded to nearest (ties away), in integer arithmetic
    hi = (__float_as_uint(v) + 0x1000u) & 0xFFFFE000u;
#else
    hi = __float_as_uint(v) & 0xFFFFE000u;
#endif
    lo = __float_as_uint(v - __uint_as_float(hi));
}

// One warp's split fragments of one k8 eighth of a step: an m16 tile of A, an n8 tile of B (small_conv.cu's layouts).
struct kan_tc_a { unsigned hi[4], lo[4]; };
struct kan_tc_b { unsigned hi[2], lo[2]; };

// A's fragments of the m16 tile from row `row`, for each k8 of the step (H of them), for lane `lane`.
template <typename OpA, int H>
__device__ __forceinline__ void kan_tc_load_a(kan_tc_a (&f)[H], const float* As, int row, int lane) {
    int r = row + (lane >> 2);
#pragma unroll
    for (int h = 0; h < H; h++) {
        int k = h * 8 + (lane & 3);
        kan_tc_split(As[OpA::at(r, k)], f[h].hi[0], f[h].lo[0]);
        kan_tc_split(As[OpA::at(r + 8, k)], f[h].hi[1], f[h].lo[1]);
        kan_tc_split(As[OpA::at(r, k + 4)], f[h].hi[2], f[h].lo[2]);
        kan_tc_split(As[OpA::at(r + 8, k + 4)], f[h].hi[3], f[h].lo[3]);
    }
}

// B's fragments of the n8 tile from column `n`, for each k8 of the step (H of them), for lane `lane`.
template <typename OpB, int H>
__device__ __forceinline__ void kan_tc_load_b(kan_tc_b (&f)[H], const float* Bs, int n, int lane) {
    int c = n + (lane >> 2);
#pragma unroll
    for (int h = 0; h < H; h++) {
        int k = h * 8 + (lane & 3);
        kan_tc_split(Bs[OpB::at(c, k)], f[h].hi[0], f[h].lo[0]);
        kan_tc_split(Bs[OpB::at(c, k + 4)], f[h].hi[1], f[h].lo[1]);
    }
}

// acc += a . b over a step's H k8: three products each, small terms first. FLUSH: into a zeroed accumulator, which is
// then added to acc in float. The tensor cores' float accumulation does not round as an add does, and kept over a long
// reduction its error grew with K (on an H200, 1.2e-5 of the largest value at K = 1,440 and 1.5e-5 at 2,048, where
// float32 on the CUDA cores has 0.4-0.7e-6; 1.5e-6 at K = 160); a step at a time keeps that error to the step's few
// terms (0.2-0.7e-6 in all, at 8, 16 or 32 a step), at the price of the adds: the products flush, the input gradient,
// whose reduction is a layer's outputs, does not.
template <bool FLUSH, int H>
__device__ __forceinline__ void kan_tc_product(float (&acc)[4], const kan_tc_a (&a)[H], const kan_tc_b (&b)[H]) {
    float step[4] = {0.f, 0.f, 0.f, 0.f};
    float (&d)[4] = FLUSH ? step : acc;
#pragma unroll
    for (int h = 0; h < H; h++) {
        conv_mma(d, a[h].lo, b[h].hi[0], b[h].hi[1]);
        conv_mma(d, a[h].hi, b[h].lo[0], b[h].lo[1]);
        conv_mma(d, a[h].hi, b[h].hi[0], b[h].hi[1]);
    }
    if (FLUSH)
#pragma unroll
        for (int q = 0; q < 4; q++) acc[q] += step[q];
}

// One warp's MT x NT tiles (corner wr, wc) over one step: the fragments of the side with fewer registers held for all
// its tiles, the other side's loaded one tile at a time (live: the accumulators, one side's fragments, one tile's).
template <int MT, int NT, bool FLUSH, typename OpA, typename OpB>
__device__ __forceinline__ void kan_tc_warp_step(float (&acc)[MT][NT][4], const float* As, const float* Bs, int wr, int wc, int lane) {
    constexpr int H = OpA::DEPTH / 8;
    if constexpr (NT * 8 <= MT * 16) {
        kan_tc_b b[NT][H];
#pragma unroll
        for (int j = 0; j < NT; j++) kan_tc_load_b<OpB, H>(b[j], Bs, wc + j * 8, lane);
#pragma unroll
        for (int i = 0; i < MT; i++) {
            kan_tc_a a[H];
            kan_tc_load_a<OpA, H>(a, As, wr + i * 16, lane);
#pragma unroll
            for (int j = 0; j < NT; j++) kan_tc_product<FLUSH, H>(acc[i][j], a, b[j]);
        }
    } else {
        kan_tc_a a[MT][H];
#pragma unroll
        for (int i = 0; i < MT; i++) kan_tc_load_a<OpA, H>(a[i], As, wr + i * 16, lane);
#pragma unroll
        for (int j = 0; j < NT; j++) {
            kan_tc_b b[H];
            kan_tc_load_b<OpB, H>(b, Bs, wc + j * 8, lane);
#pragma unroll
            for (int i = 0; i < MT; i++) kan_tc_product<FLUSH, H>(acc[i][j], a[i], b);
        }
    }
}

// The main loop both kernels share: `steps` steps through the ring of STAGES buffers of STAGE floats. load(buffer, s)
// starts step s's copies into a buffer; multiply(buffer) runs a step out of its buffer. Steps 0 .. STAGES-2 are in
// flight first; at step s, after the wait and the barrier (every warp is done with step s - 1's buffer), step
// s + STAGES - 1 goes into that buffer. An empty group keeps the count of groups exact. Ends with no copy in flight and
// the buffers free for the caller's epilogue.
template <int STAGES, int STAGE, typename Load, typename Multiply>
__device__ __forceinline__ void kan_tc_steps(float* shared, int steps, Load load, Multiply multiply) {
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < steps) load(shared + s * STAGE, s);
        kan_tc_commit();
    }
    for (int s = 0; s < steps; s++) {
        kan_tc_wait<STAGES - 2>();
        __syncthreads();
        int next = s + STAGES - 1;
        if (next < steps) load(shared + (next % STAGES) * STAGE, next);
        kan_tc_commit();
        multiply(shared + (s % STAGES) * STAGE);
    }
    kan_tc_wait<0>();
    __syncthreads();
}

// One block's MT x NT tiles per warp of C = A . B over `steps` steps from reduction index k0 through a ring of STAGES:
// accumulators zeroed, then the ring with both operands' tiles (rows m0.. of A out of M, columns n0.. of B out of N)
// and the warps' products.
template <int MT, int NT, bool FLUSH, int STAGES, typename OpA, typename OpB, int T>
__device__ __forceinline__ void kan_tc_multiply(float (&acc)[MT][NT][4], float* shared, int steps, const float* __restrict__ A, long long lda,
                                                int m0, int M, const float* __restrict__ B, long long ldb, int n0, int N, long long k0,
                                                int t, int wr, int wc, int lane) {
    static_assert(OpA::DEPTH == OpB::DEPTH, "one step for both operands");
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int q = 0; q < 4; q++) acc[i][j][q] = 0.f;
    const typename OpA::template loader<T> la(A, lda, m0, M, k0, t);
    const typename OpB::template loader<T> lb(B, ldb, n0, N, k0, t);
    kan_tc_steps<STAGES, OpA::FLOATS + OpB::FLOATS>(
        shared, steps,
        [&](float* buffer, int s) {
            la.copy(buffer, s);
            lb.copy(buffer + OpA::FLOATS, s);
        },
        [&](const float* buffer) { kan_tc_warp_step<MT, NT, FLUSH, OpA, OpB>(acc, buffer, buffer + OpA::FLOATS, wr, wc, lane); });
}

template <int BM, int BN, int WR, bool A_ROWS, bool B_COLUMNS>
__device__ __forceinline__ void kan_tc_tile(const float* __restrict__ A, long long lda, const float* __restrict__ B, long long ldb,
                                            float* __restrict__ C, int M, int N, int K, int kChunk, float* shared) {
    // A_ROWS: A[m, k] = A[m * lda + k]; else A[k * lda + m]. B_COLUMNS: B[k, n] = B[n * ldb + k]; else B[k * ldb + n].
    using OpA = kan_tc_operand<BM, A_ROWS, KAN_TC_STEP>;
    using OpB = kan_tc_operand<BN, B_COLUMNS, KAN_TC_STEP>;
    constexpr int WX = BN / 32, T = (BM / WR) * WX * 32, MT = WR / 16, NT = 4;

    const int t = (int)threadIdx.x, lane = t & 31, warp = t >> 5, g = lane >> 2, c = lane & 3;
    const int wr = (warp / WX) * WR, wc = (warp % WX) * 32;   // the warp's corner in the tile
    const int tilesN = (N + BN - 1) / BN;
    const int m0 = (int)(blockIdx.x / tilesN) * BM, n0 = (int)(blockIdx.x % tilesN) * BN;
    const long long k0 = (long long)blockIdx.y * kChunk;
    C += (long long)blockIdx.y * M * N;
    const int steps = (int)((k0 + kChunk < K ? k0 + kChunk : K) - k0) / KAN_TC_STEP;   // the last slice may be shorter
    if (steps <= 0) return;

    float acc[MT][NT][4];
    kan_tc_multiply<MT, NT, true, KAN_TC_STAGES, OpA, OpB, T>(acc, shared, steps, A, lda, m0, M, B, ldb, n0, N, k0, t, wr, wc, lane);

#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int m = m0 + wr + i * 16 + g + 8 * h;
            if (m >= M) continue;
#pragma unroll
            for (int j = 0; j < NT; j++) {
                int n = n0 + wc + j * 8 + 2 * c;
                if (n < N) *reinterpret_cast<conv_f2*>(C + (long long)m * N + n) = conv_f2{acc[i][j][2 * h], acc[i][j][2 * h + 1]};
            }
        }
}

// Entries kan_product_tf32x3_<BM>x<BN>_<layout> (kan_product.cu's layout letters), WR rows a warp, THREADS =
// (BM / WR) * (BN / 32) * 32 (KanProductTile.WarpRows, Threads), launch bounds for KAN_TC_SM_THREADS a multiprocessor;
// dynamic shared memory KAN_TC_STAGES buffers (Native/KanProductKernels.cs sizes it).
#define KAN_TC_ENTRY(BM, BN, WR, THREADS, NAME, A_ROWS, B_COLUMNS)                                                                   \
    extern "C" __global__ void __launch_bounds__(THREADS, KAN_TC_SM_THREADS / THREADS) kan_product_tf32x3_##BM##x##BN##_##NAME(      \
        const float* __restrict__ a, long long lda, const float* __restrict__ b, long long ldb, float* __restrict__ c, int M, int N,    \
        int K, int kChunk) {                                                                                                            \
        static_assert((BM / WR) * (BN / 32) * 32 == THREADS, "threads");                                                              \
        extern __shared__ float kan_tc_shared[];                                                                                        \
        kan_tc_tile<BM, BN, WR, A_ROWS, B_COLUMNS>(a, lda, b, ldb, c, M, N, K, kChunk, kan_tc_shared);                                \
    }
#define KAN_TC_LAYOUTS(BM, BN, WR, THREADS)                 \
    KAN_TC_ENTRY(BM, BN, WR, THREADS, nt, true, true)       \
    KAN_TC_ENTRY(BM, BN, WR, THREADS, tn, false, false)     \
    KAN_TC_ENTRY(BM, BN, WR, THREADS, nn, true, false)
KAN_TC_LAYOUTS(128, 128, 64, 256)
KAN_TC_LAYOUTS(128, 64, 64, 128)
KAN_TC_LAYOUTS(64, 128, 64, 128)
KAN_TC_LAYOUTS(64, 64, 32, 128)
KAN_TC_LAYOUTS(128, 32, 32, 128)
KAN_TC_LAYOUTS(64, 32, 32, 64)

// dL/dx of a KAN layer with its product on the tensor cores: kan_product.cu's kan_product_input_grad_9 (dL/dF = dy . W
// formed a tile at a time, reduced by the features' derivatives, never stored) with dL/dF in 3xTF32 as above. A block
// of 4 warps (2 x 2) takes 64 tokens x 16 inputs' WIDTH columns, each warp 32 tokens x 8 inputs (WIDTH n8 tiles); the
// tile then goes through shared memory (rows of 16 WIDTH + 1 floats) so that one thread finds an input's WIDTH columns
// for kan_input_grad_of. Requirements (Native/KanProductKernels.cs): dy (M x out) and W (out x in*WIDTH) row-major and
// 16-byte aligned, out a multiple of 16, in of 16; x and dL/dx (M x in) row-major.
template <int WIDTH>
__device__ __forceinline__ void kan_tc_input_grad_tile(const float* __restrict__ dy, int out, const float* __restrict__ W,
                                                       const float* __restrict__ x, float* __restrict__ gx, int M, int in, float t0,
                                                       float inv_h, float* shared) {
    constexpr int BM = 64, INPUTS = 16, BN = INPUTS * WIDTH, T = 128, MT = 2, NT = WIDTH, LD = BN + 1;
    using OpA = kan_tc_operand<BM, true, KAN_TC_GRAD_STEP>;    // dy, along its k (out)
    using OpB = kan_tc_operand<BN, false, KAN_TC_GRAD_STEP>;   // W, along its columns
    static_assert(BM * LD <= KAN_TC_GRAD_STAGES * (OpA::FLOATS + OpB::FLOATS), "the epilogue's tile fits the buffers");

    const int t = (int)threadIdx.x, lane = t & 31, warp = t >> 5, g = lane >> 2, c = lane & 3;
    const int wr = (warp >> 1) * 32, wc = (warp & 1) * (BN / 2);
    const int tilesN = in / INPUTS, N = in * WIDTH;
    const int m0 = (int)(blockIdx.x / tilesN) * BM, i0 = (int)(blockIdx.x % tilesN) * INPUTS;

    float acc[MT][NT][4];
    kan_tc_multiply<MT, NT, false, KAN_TC_GRAD_STAGES, OpA, OpB, T>(acc, shared, out / KAN_TC_GRAD_STEP, dy, out, m0, M, W, N, i0 * WIDTH, N, 0, t, wr, wc, lane);

#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                float* row = shared + (wr + i * 16 + g + 8 * h) * LD + wc + j * 8 + 2 * c;
                row[0] = acc[i][j][2 * h];
                row[1] = acc[i][j][2 * h + 1];
            }
    __syncthreads();
    for (int p = t; p < BM * INPUTS; p += T) {
        int r = p / INPUTS, input = p % INPUTS, m = m0 + r;
        if (m >= M) continue;
        long long at = (long long)m * in + i0 + input;
        gx[at] = kan_input_grad_of<WIDTH>(shared + r * LD + input * WIDTH, x[at], t0, inv_h);
    }
}

// K = 8 bases (U-KAN's grid): 9 columns per input. 128 threads, at most 168 registers a thread (72 accumulators),
// three blocks per multiprocessor; dynamic shared memory KAN_TC_GRAD_STAGES buffers of 64 x 20 + 16 x 152 floats.
extern "C" __global__ void __launch_bounds__(128, 3) kan_product_input_grad_tf32x3_9(const float* __restrict__ dy, int out, const float* __restrict__ w,
                                                                                     const float* __restrict__ x, float* __restrict__ gx, int M, int in,
                                                                                     float t0, float inv_h) {
    extern __shared__ float kan_tc_grad_shared[];
    kan_tc_input_grad_tile<9>(dy, out, w, x, gx, M, in, t0, inv_h, kan_tc_grad_shared);
}
