// The float32 products of the KAN layers on the tensor cores at float32 accuracy ("3xTF32", the split NVIDIA's CUTLASS
// calls fast-accurate float32 emulation): each operand value v is split into v_hi = tf32(v) and v_lo = tf32(v - v_hi),
// both exact in TF32's 10 mantissa bits, and a * b is accumulated as a_lo * b_hi + a_hi * b_lo + a_hi * b_hi with
// mma.sync m16n8k8; the dropped a_lo * b_lo is below 2^-22 of a * b. Measured on an H200 against float64 (ukan
// selftest): 0.2-0.5e-6 of the largest value on U-KAN's products, where cuBLAS's float32 has 0.4-0.7e-6 and a single
// TF32 product about 1e-3 (docs/results.md §2t), so PyTorch's default of float32 products is kept in accuracy while the
// work moves from the CUDA cores (67 TFLOP/s of float32 on an H200) to the tensor cores. mma.sync reaches only a part
// of Hopper's tensor-core rate (its warpgroup MMA, not used here, the rest), and three products per product leave the
// plain products no faster than cuBLAS's float32 there (they join the timed plans with UKAN_KAN_PRODUCT_KERNELS=on).
// KANLinear's input gradient, which also saves dL/dF's trip through memory, took 7-34 % less time per launch than on
// the CUDA cores and is the default. mma.sync's fragment layouts and the emulation the CPU tests use: small_conv.cu's
// header (conv_tf32, conv_mma; TF32 mma exists from sm_80 on, where the host alone takes these kernels).
//
// C (M x N, row-major) = A (M x K) . B (K x N) with the operand layouts and arguments of kan_product.cu (nt, tn, nn;
// split reduction: grid.y = S slices of kChunk, slice s writes C + s*M*N, the caller adds them in a fixed order). A block
// of (BM/WR) x (BN/32) warps computes a BM x BN tile, each warp WR x 32 of it (WR = 64 or 32: 4 or 2 m16 tiles by four
// n8 tiles). The reduction runs in steps of 16 through a ring of KAN_TC_STAGES shared buffers filled by cp.async
// (global -> shared without registers, zero-filled past M and N), so that three steps' loads are in flight while one
// is multiplied. Each buffer keeps its operand in the order of global memory: along k ([row][16 + 4]) or along the
// rows ([16][rows + 8]); both paddings put the fragment reads of a warp (rows g, k c; lane = 4g + c) on 32 distinct banks.
// Requirements (Native/KanProductKernels.cs): M, N, lda, ldb multiples of 4, 16-byte aligned operands, K and kChunk
// multiples of 16, every slice non-empty.

#define KAN_TC_BK 16
#define KAN_TC_STAGES 4

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

// The shared layout of one operand's buffer: ALONG_K, [R rows][KAN_TC_BK + 4] (k contiguous); else [KAN_TC_BK][R + 8].
template <int R, bool ALONG_K>
struct kan_tc_operand {
    static constexpr int FLOATS = ALONG_K ? R * (KAN_TC_BK + 4) : KAN_TC_BK * (R + 8);
    __device__ __forceinline__ static int at(int row, int k) { return ALONG_K ? row * (KAN_TC_BK + 4) + k : k * (R + 8) + row; }

    // One step's tile (R rows x KAN_TC_BK k from reduction index k) into `tile`, T threads, 16 bytes a copy.
    template <int T>
    __device__ __forceinline__ static void load(float* tile, const float* __restrict__ base, long long ld, int first, int count, long long k, int t) {
        constexpr int COPIES = R * KAN_TC_BK / 4;
#pragma unroll
        for (int f = t; f < COPIES; f += T) {
            int row, kk;
            if (ALONG_K) row = f / (KAN_TC_BK / 4), kk = (f % (KAN_TC_BK / 4)) * 4;
            else kk = f / (R / 4), row = (f % (R / 4)) * 4;
            bool valid = first + row < count;   // count is a multiple of 4: a copy along the rows is all in or all out
            const float* src = ALONG_K ? base + (long long)(first + row) * ld + k + kk : base + (k + kk) * ld + first + row;
            kan_tc_copy16(tile + at(row, kk), valid ? src : base, valid);
        }
    }
};

// v split into its TF32 high part and the TF32 rounding of the rest.
__device__ __forceinline__ void kan_tc_split(float v, unsigned& hi, unsigned& lo) {
    hi = conv_tf32(v);
    lo = conv_tf32(v - __uint_as_float(hi));
}

// One warp's split fragments of a step (two k8 halves): an m16 tile of A, an n8 tile of B (small_conv.cu's layouts).
struct kan_tc_a { unsigned hi[2][4], lo[2][4]; };
struct kan_tc_b { unsigned hi[2][2], lo[2][2]; };

template <typename OpA>
__device__ __forceinline__ void kan_tc_load_a(kan_tc_a& f, const float* As, int r, int c) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
        int k = h * 8 + c;
        kan_tc_split(As[OpA::at(r, k)], f.hi[h][0], f.lo[h][0]);
        kan_tc_split(As[OpA::at(r + 8, k)], f.hi[h][1], f.lo[h][1]);
        kan_tc_split(As[OpA::at(r, k + 4)], f.hi[h][2], f.lo[h][2]);
        kan_tc_split(As[OpA::at(r + 8, k + 4)], f.hi[h][3], f.lo[h][3]);
    }
}

template <typename OpB>
__device__ __forceinline__ void kan_tc_load_b(kan_tc_b& f, const float* Bs, int n, int c) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
        kan_tc_split(Bs[OpB::at(n, h * 8 + c)], f.hi[h][0], f.lo[h][0]);
        kan_tc_split(Bs[OpB::at(n, h * 8 + c + 4)], f.hi[h][1], f.lo[h][1]);
    }
}

// acc += a . b over one step: the six products, small terms first. FLUSH: into a zeroed accumulator, which is then
// added to acc in float. The tensor cores' float accumulation does not round as an add does, and kept over a long
// reduction its error grew with K (on an H200, 1.2e-5 of the largest value at K = 1,440 and 1.5e-5 at 2,048, where
// float32 on the CUDA cores has 0.4-0.7e-6; 1.5e-6 at K = 160); a step of 16 at a time keeps that error to the step's
// few terms (then 0.3-0.5e-6), at the price of the adds: the products flush, the input gradient, whose reduction is
// a layer's outputs (128 to 512 in U-KAN), does not.
template <bool FLUSH>
__device__ __forceinline__ void kan_tc_product(float (&acc)[4], const kan_tc_a& a, const kan_tc_b& b) {
    float step[4] = {0.f, 0.f, 0.f, 0.f};
    float (&d)[4] = FLUSH ? step : acc;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        conv_mma(d, a.lo[h], b.hi[h][0], b.hi[h][1]);
        conv_mma(d, a.hi[h], b.lo[h][0], b.lo[h][1]);
        conv_mma(d, a.hi[h], b.hi[h][0], b.hi[h][1]);
    }
    if (FLUSH)
#pragma unroll
        for (int q = 0; q < 4; q++) acc[q] += step[q];
}

// One warp's MT x NT tiles (corner wr, wc) over one step: the fragments of the side with fewer registers held for all
// its tiles, the other side's loaded one tile at a time (live: the accumulators, one side's fragments, one tile's).
template <int MT, int NT, bool FLUSH, typename OpA, typename OpB>
__device__ __forceinline__ void kan_tc_warp_step(float (&acc)[MT][NT][4], const float* As, const float* Bs, int wr, int wc, int g, int c) {
    if constexpr (NT * 8 <= MT * 16) {
        kan_tc_b b[NT];
#pragma unroll
        for (int j = 0; j < NT; j++) kan_tc_load_b<OpB>(b[j], Bs, wc + j * 8 + g, c);
#pragma unroll
        for (int i = 0; i < MT; i++) {
            kan_tc_a a;
            kan_tc_load_a<OpA>(a, As, wr + i * 16 + g, c);
#pragma unroll
            for (int j = 0; j < NT; j++) kan_tc_product<FLUSH>(acc[i][j], a, b[j]);
        }
    } else {
        kan_tc_a a[MT];
#pragma unroll
        for (int i = 0; i < MT; i++) kan_tc_load_a<OpA>(a[i], As, wr + i * 16 + g, c);
#pragma unroll
        for (int j = 0; j < NT; j++) {
            kan_tc_b b;
            kan_tc_load_b<OpB>(b, Bs, wc + j * 8 + g, c);
#pragma unroll
            for (int i = 0; i < MT; i++) kan_tc_product<FLUSH>(acc[i][j], a[i], b);
        }
    }
}

// The main loop both kernels share: `steps` steps of KAN_TC_BK through the ring of KAN_TC_STAGES buffers of STAGE
// floats. load(buffer, s) starts step s's copies into a buffer; multiply(buffer) runs a step out of its buffer. Steps
// 0 .. STAGES-2 are in flight first; at step s, after the wait and the barrier (every warp is done with step s - 1's
// buffer), step s + STAGES - 1 goes into that buffer. An empty group keeps the count of groups exact. Ends with no copy
// in flight and the buffers free for the caller's epilogue.
template <int STAGE, typename Load, typename Multiply>
__device__ __forceinline__ void kan_tc_steps(float* shared, int steps, Load load, Multiply multiply) {
#pragma unroll
    for (int s = 0; s < KAN_TC_STAGES - 1; s++) {
        if (s < steps) load(shared + s * STAGE, s);
        kan_tc_commit();
    }
    for (int s = 0; s < steps; s++) {
        kan_tc_wait<KAN_TC_STAGES - 2>();
        __syncthreads();
        int next = s + KAN_TC_STAGES - 1;
        if (next < steps) load(shared + (next % KAN_TC_STAGES) * STAGE, next);
        kan_tc_commit();
        multiply(shared + (s % KAN_TC_STAGES) * STAGE);
    }
    kan_tc_wait<0>();
    __syncthreads();
}

// One block's MT x NT tiles per warp of C = A . B over `steps` steps from reduction index k0: accumulators zeroed, then
// the ring with both operands' tiles (rows m0.. of A out of M, columns n0.. of B out of N) and the warps' products.
template <int MT, int NT, bool FLUSH, typename OpA, typename OpB, int T>
__device__ __forceinline__ void kan_tc_multiply(float (&acc)[MT][NT][4], float* shared, int steps, const float* __restrict__ A, long long lda,
                                                int m0, int M, const float* __restrict__ B, long long ldb, int n0, int N, long long k0,
                                                int t, int wr, int wc, int g, int c) {
    constexpr int STAGE = OpA::FLOATS + OpB::FLOATS;
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int q = 0; q < 4; q++) acc[i][j][q] = 0.f;
    kan_tc_steps<STAGE>(
        shared, steps,
        [&](float* buffer, int s) {
            long long k = k0 + (long long)s * KAN_TC_BK;
            OpA::template load<T>(buffer, A, lda, m0, M, k, t);
            OpB::template load<T>(buffer + OpA::FLOATS, B, ldb, n0, N, k, t);
        },
        [&](const float* buffer) { kan_tc_warp_step<MT, NT, FLUSH, OpA, OpB>(acc, buffer, buffer + OpA::FLOATS, wr, wc, g, c); });
}

template <int BM, int BN, int WR, bool A_ROWS, bool B_COLUMNS>
__device__ __forceinline__ void kan_tc_tile(const float* __restrict__ A, long long lda, const float* __restrict__ B, long long ldb,
                                            float* __restrict__ C, int M, int N, int K, int kChunk, float* shared) {
    // A_ROWS: A[m, k] = A[m * lda + k]; else A[k * lda + m]. B_COLUMNS: B[k, n] = B[n * ldb + k]; else B[k * ldb + n].
    using OpA = kan_tc_operand<BM, A_ROWS>;
    using OpB = kan_tc_operand<BN, B_COLUMNS>;
    constexpr int WX = BN / 32, T = (BM / WR) * WX * 32, MT = WR / 16, NT = 4;

    const int t = (int)threadIdx.x, lane = t & 31, warp = t >> 5, g = lane >> 2, c = lane & 3;
    const int wr = (warp / WX) * WR, wc = (warp % WX) * 32;   // the warp's corner in the tile
    const int tilesN = (N + BN - 1) / BN;
    const int m0 = (int)(blockIdx.x / tilesN) * BM, n0 = (int)(blockIdx.x % tilesN) * BN;
    const long long k0 = (long long)blockIdx.y * kChunk;
    C += (long long)blockIdx.y * M * N;
    const int steps = (int)((k0 + kChunk < K ? k0 + kChunk : K) - k0) / KAN_TC_BK;   // the last slice may be shorter
    if (steps <= 0) return;

    float acc[MT][NT][4];
    kan_tc_multiply<MT, NT, true, OpA, OpB, T>(acc, shared, steps, A, lda, m0, M, B, ldb, n0, N, k0, t, wr, wc, g, c);

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
// (BM / WR) * (BN / 32) * 32, at most 128 registers a thread (512 threads' worth per multiprocessor: 64 accumulators
// for WR = 64, B's split fragments, one A tile's); dynamic shared memory KAN_TC_STAGES buffers (Native/KanProductKernels.cs sizes it).
#define KAN_TC_ENTRY(BM, BN, WR, THREADS, NAME, A_ROWS, B_COLUMNS)                                                                   \
    extern "C" __global__ void __launch_bounds__(THREADS, 512 / THREADS) kan_product_tf32x3_##BM##x##BN##_##NAME(                                      \
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
    using OpA = kan_tc_operand<BM, true>;    // dy, along its k (out)
    using OpB = kan_tc_operand<BN, false>;   // W, along its columns
    static_assert(BM * LD <= KAN_TC_STAGES * (OpA::FLOATS + OpB::FLOATS), "the epilogue's tile fits the buffers");

    const int t = (int)threadIdx.x, lane = t & 31, warp = t >> 5, g = lane >> 2, c = lane & 3;
    const int wr = (warp >> 1) * 32, wc = (warp & 1) * (BN / 2);
    const int tilesN = in / INPUTS, N = in * WIDTH;
    const int m0 = (int)(blockIdx.x / tilesN) * BM, i0 = (int)(blockIdx.x % tilesN) * INPUTS;

    float acc[MT][NT][4];
    kan_tc_multiply<MT, NT, false, OpA, OpB, T>(acc, shared, out / KAN_TC_BK, dy, out, m0, M, W, N, i0 * WIDTH, N, 0, t, wr, wc, g, c);

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
// three blocks per multiprocessor; dynamic shared memory KAN_TC_STAGES buffers of 64 x 20 + 16 x 152 floats.
extern "C" __global__ void __launch_bounds__(128, 3) kan_product_input_grad_tf32x3_9(const float* __restrict__ dy, int out, const float* __restrict__ w,
                                                                                     const float* __restrict__ x, float* __restrict__ gx, int M, int in,
                                                                                     float t0, float inv_h) {
    extern __shared__ float kan_tc_grad_shared[];
    kan_tc_input_grad_tile<9>(dy, out, w, x, gx, M, in, t0, inv_h, kan_tc_grad_shared);
}
