// The float32 products of the KAN layers on the CUDA cores: C (M x N, row-major) = A (M x K) . B (K x N), every
// multiply-add a float32 fma (the arithmetic of PyTorch's default for products; the order of the sum differs from
// cuBLAS's, as cuBLAS's own kernels differ among themselves). Written because U-KAN's products are thin (a layer of
// 128 to 256 outputs contracts 9 features per input over thousands of tokens) and cuBLAS runs them at 19-49 TFLOP/s of
// an H200's 67; measured there, cuBLAS was still faster on all 18 products of the training step (docs/results.md §2q),
// so these entries join the plans Layers/SplitReduction.cs times per shape only with UKAN_KAN_PRODUCT_KERNELS=on. Their
// "nn" main loop also drives the input-gradient kernel at the end of this file, which is on by default (§2r).
//
// The kernel is the classic register-blocked SGEMM: a block of (BM/8) x (BN/TN) threads computes a BM x BN tile of C,
// each thread an 8 x TN sub-tile made of 4 x 4 corners (rows ty*4 and BM/2 + ty*4, columns tx*4 and, for TN = 8,
// BN/2 + tx*4) so that its operands come from shared memory as 16-byte reads. The reduction runs in steps of 8: the
// next step's A and B tiles are loaded from global memory into registers while the current one is multiplied out of
// shared memory (two shared buffers, one barrier per step; kan_product_steps). A warp covers 4 x 8 threads, so a
// step's shared reads are 4 distinct A vectors and 8 distinct B vectors per warp (one wavefront each). Operands stored
// along the reduction (row-major A, B = W^T of a row-major W) are transposed on their way into shared memory, whose
// rows are padded by 4 floats so that the two halves of a warp write different banks.
//
// Split reduction: grid.y = S slices of kChunk consecutive k each (the last one what is left of K); slice s writes
// C + s*M*N, and the caller adds the S partial products in a fixed order (partial_sums.cu) where S > 1. Requirements
// (checked by Native/KanProductKernels.cs): M, N, lda, ldb multiples of 4, 16-byte aligned operands, K and kChunk
// multiples of 8, every slice non-empty. Rows past M and columns past N are loaded as zeros and not stored, so any M
// and N (multiples of 4) take any tile.

#define KAN_PRODUCT_PAD 4

// One operand's tile of a step: R rows (m of A, n of B) x 8 k, moved as 16-byte loads. ROWS: the operand is stored
// along k (A row-major, B = W^T), so a load takes 4 consecutive k of one row and is transposed into shared memory;
// else along its rows (4 consecutive rows of one k), stored as it is. Each thread keeps the addresses of its loads
// (L of them; the last round may leave threads idle when T does not divide 2R) and moves them by one step at a time.
template <int R, int T, bool ROWS>
struct kan_product_operand {
    static constexpr int L = (2 * R + T - 1) / T;
    const float* at[L];
    bool valid[L];
    long long advance;   // floats per step
    kan_f4 held[L];

    __device__ __forceinline__ kan_product_operand(const float* __restrict__ base, long long ld, int first, int count, long long k0, int t) {
        advance = ROWS ? 8 : 8 * ld;
#pragma unroll
        for (int i = 0; i < L; i++) {
            int f = t + i * T;
            int row = ROWS ? first + (f >> 1) : first + (f % (R / 4)) * 4;
            valid[i] = f < 2 * R && row < count;
            at[i] = ROWS ? base + (long long)row * ld + k0 + (f & 1) * 4 : base + (k0 + f / (R / 4)) * ld + row;
        }
    }
    // The next step into registers (zeros past the edge), then the addresses one step on.
    __device__ __forceinline__ void load() {
#pragma unroll
        for (int i = 0; i < L; i++) {
            held[i] = valid[i] ? *reinterpret_cast<const kan_f4*>(at[i]) : kan_f4{0.f, 0.f, 0.f, 0.f};
            at[i] += advance;
        }
    }
    // The registers into a shared buffer laid out [k][row] (rows padded by KAN_PRODUCT_PAD).
    __device__ __forceinline__ void store(float (*tile)[R + KAN_PRODUCT_PAD], int t) const {
#pragma unroll
        for (int i = 0; i < L; i++) {
            int f = t + i * T;
            if (f >= 2 * R) continue;
            if (ROWS) {
                int row = f >> 1, kq = (f & 1) * 4;
                tile[kq][row] = held[i].x;
                tile[kq + 1][row] = held[i].y;
                tile[kq + 2][row] = held[i].z;
                tile[kq + 3][row] = held[i].w;
            } else {
                *reinterpret_cast<kan_f4*>(&tile[f / (R / 4)][(f % (R / 4)) * 4]) = held[i];
            }
        }
    }
};

// The main loop both kernels share: steps of 8 along the reduction, the next step's tiles loaded from global memory
// into registers while `step` multiplies the current ones out of shared memory (two buffers, one barrier per step).
// step(arow, brow) is called for each of a step's 8 k with that k's rows of the A and B tiles.
template <int BM, int BN, typename OperandA, typename OperandB, typename Step>
__device__ __forceinline__ void kan_product_steps(OperandA& a, OperandB& b, float (*As)[8][BM + KAN_PRODUCT_PAD],
                                                  float (*Bs)[8][BN + KAN_PRODUCT_PAD], int steps, int t, Step step) {
    a.load();
    b.load();
    a.store(As[0], t);
    b.store(Bs[0], t);
    __syncthreads();
    for (int s = 0; s < steps; s++) {
        const int cur = s & 1;
        if (s + 1 < steps) {
            a.load();
            b.load();
        }
#pragma unroll
        for (int kk = 0; kk < 8; kk++) step(&As[cur][kk][0], &Bs[cur][kk][0]);
        if (s + 1 < steps) {
            a.store(As[cur ^ 1], t);
            b.store(Bs[cur ^ 1], t);
        }
        __syncthreads();
    }
}

template <int BM, int BN, int TN, bool A_ROWS, bool B_COLUMNS>
__device__ __forceinline__ void kan_product_tile(const float* __restrict__ A, long long lda, const float* __restrict__ B, long long ldb,
                                                 float* __restrict__ C, int M, int N, int K, int kChunk) {
    // A_ROWS: A[m, k] = A[m * lda + k] (row-major, k contiguous); else A[m, k] = A[k * lda + m].
    // B_COLUMNS: B[k, n] = B[n * ldb + k] (k contiguous: B is W^T of a row-major W); else B[k, n] = B[k * ldb + n].
    // Each thread: 8 rows (two groups of 4) x TN columns (two groups of 4 for TN = 8, one for TN = 4).
    constexpr int T = (BM / 8) * (BN / TN);         // threads
    static_assert((TN == 8 || TN == 4) && BN / TN >= 8 && (BN / TN) % 8 == 0, "tile shape");
    __align__(16) __shared__ float As[2][8][BM + KAN_PRODUCT_PAD];
    __align__(16) __shared__ float Bs[2][8][BN + KAN_PRODUCT_PAD];

    const int t = (int)threadIdx.x, lane = t & 31, warp = t >> 5;
    constexpr int WX = BN / TN / 8;                 // warps across the tile's columns
    const int tx = (warp % WX) * 8 + (lane & 7), ty = (warp / WX) * 4 + (lane >> 3);
    const int tilesN = (N + BN - 1) / BN;
    const int m0 = (int)(blockIdx.x / tilesN) * BM, n0 = (int)(blockIdx.x % tilesN) * BN;
    const long long k0 = (long long)blockIdx.y * kChunk;
    C += (long long)blockIdx.y * M * N;

    kan_product_operand<BM, T, A_ROWS> a(A, lda, m0, M, k0, t);
    kan_product_operand<BN, T, B_COLUMNS> b(B, ldb, n0, N, k0, t);

    float acc[8][TN];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] = 0.f;

    const int steps = (int)((k0 + kChunk < K ? k0 + kChunk : K) - k0) / 8;   // the last slice may be shorter
    if (steps <= 0) return;
    kan_product_steps<BM, BN>(a, b, As, Bs, steps, t, [&](const float* arow, const float* brow) {
        kan_f4 a0 = *reinterpret_cast<const kan_f4*>(arow + ty * 4);
        kan_f4 a1 = *reinterpret_cast<const kan_f4*>(arow + BM / 2 + ty * 4);
        kan_f4 b0 = *reinterpret_cast<const kan_f4*>(brow + tx * 4);
        const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
        float bv[TN];
        bv[0] = b0.x, bv[1] = b0.y, bv[2] = b0.z, bv[3] = b0.w;
        if (TN == 8) {
            kan_f4 b1 = *reinterpret_cast<const kan_f4*>(brow + BN / 2 + tx * 4);
            bv[TN - 4] = b1.x, bv[TN - 3] = b1.y, bv[TN - 2] = b1.z, bv[TN - 1] = b1.w;
        }
#pragma unroll
        for (int i = 0; i < 8; i++)
#pragma unroll
            for (int j = 0; j < TN; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    });

#pragma unroll
    for (int i = 0; i < 8; i++) {
        int m = m0 + (i < 4 ? ty * 4 + i : BM / 2 + ty * 4 + i - 4);
        if (m >= M) continue;
#pragma unroll
        for (int h = 0; h < TN / 4; h++) {
            int n = n0 + h * (BN / 2) + tx * 4;
            if (n < N)
                *reinterpret_cast<kan_f4*>(C + (long long)m * N + n) = kan_f4{acc[i][4 * h], acc[i][4 * h + 1], acc[i][4 * h + 2], acc[i][4 * h + 3]};
        }
    }
}

// Entries kan_product_<BM>x<BN>_<layout>, layout in BLAS's letters for row-major C = op(A) . op(B): nt = A row-major and
// B = W^T (the forward y = F . W^T), tn = A = dy^T and B row-major (the weight gradient dW = dy^T . F), nn = both
// row-major (the features' gradient dF = dy . W). Threads per block: (BM/8) * (BN/TN), TN = 8 columns per thread for
// tiles 64 or more wide, 4 for the 32-wide ones (which fit a 160-channel layer's 160 = 5 x 32 without waste); grid
// (tiles, splits). The launch bounds ask for 512 resident threads per multiprocessor (at most 128 registers a thread:
// 64 accumulators, 16 operands, the next step's loads and their addresses), so that other blocks' loads hide a
// block's waits.
#define KAN_PRODUCT_ENTRY(BM, BN, TN, THREADS, MIN_BLOCKS, NAME, A_ROWS, B_COLUMNS)                                        \
    extern "C" __global__ void __launch_bounds__(THREADS, MIN_BLOCKS) kan_product_##BM##x##BN##_##NAME(                      \
        const float* __restrict__ a, long long lda, const float* __restrict__ b, long long ldb, float* __restrict__ c, int M, \
        int N, int K, int kChunk) {                                                                                             \
        static_assert((BM / 8) * (BN / TN) == THREADS && THREADS * MIN_BLOCKS == 512, "launch bounds");                       \
        kan_product_tile<BM, BN, TN, A_ROWS, B_COLUMNS>(a, lda, b, ldb, c, M, N, K, kChunk);                                  \
    }
#define KAN_PRODUCT_LAYOUTS(BM, BN, TN, THREADS, MIN_BLOCKS)                       \
    KAN_PRODUCT_ENTRY(BM, BN, TN, THREADS, MIN_BLOCKS, nt, true, true)             \
    KAN_PRODUCT_ENTRY(BM, BN, TN, THREADS, MIN_BLOCKS, tn, false, false)           \
    KAN_PRODUCT_ENTRY(BM, BN, TN, THREADS, MIN_BLOCKS, nn, true, false)
KAN_PRODUCT_LAYOUTS(128, 128, 8, 256, 2)
KAN_PRODUCT_LAYOUTS(128, 64, 8, 128, 4)
KAN_PRODUCT_LAYOUTS(64, 128, 8, 128, 4)
KAN_PRODUCT_LAYOUTS(64, 64, 8, 64, 8)
KAN_PRODUCT_LAYOUTS(128, 32, 4, 128, 4)
KAN_PRODUCT_LAYOUTS(64, 32, 4, 64, 8)

// dL/dx of a KAN layer straight from its output's gradient: dL/dF = dy . W (tokens x in*(1+K), interleaved per input as
// the features are) is formed a tile at a time and reduced in registers by the features' derivatives,
// dL/dx = dL/dSiLU * SiLU'(x) + sum_j dL/dB_j * B_j'(x) (kan_features_backward's formula), so the (tokens x in*(1+K))
// gradient is never stored and read back (on a 128-channel layer of U-KAN at 512^2, 151 MB each way). The product is
// kan_product_tile's "nn" main loop with a tile of 64 tokens x 16 inputs' WIDTH = 1+K columns: each thread keeps all
// WIDTH columns of one input for 8 tokens (rows ty*4 and 32 + ty*4, columns tx*WIDTH ..), so the reduction over an
// input's features is its own. B's shared rows are read as scalars at stride WIDTH (odd: conflict-free). Requirements
// (Native/KanProductKernels.cs): dy (M x out) and W (out x in*WIDTH) row-major and 16-byte aligned, out a multiple of 8,
// in a multiple of 16; x and dL/dx (M x in) row-major.
// One input's dL/dx from its WIDTH = 1 + K columns of dL/dF (d[0] SiLU's, d[1 + j] basis j's) and x = v:
// dL/dSiLU * SiLU'(x) + sum_j dL/dB_j * B_j'(x), kan_features_backward's formula.
template <int WIDTH>
__device__ __forceinline__ float kan_input_grad_of(const float* d, float v, float t0, float inv_h) {
    float sig = 1.0f / (1.0f + expf(-v));
    float g = d[0] * sig * (1.0f + v * (1.0f - sig));   // d SiLU / dx
    float u = (v - t0) * inv_h;
#pragma unroll
    for (int j = 0; j < WIDTH - 1; j++) g += d[1 + j] * cardinal_slope(u - (float)j - 2.0f, inv_h);
    return g;
}

template <int WIDTH>
__device__ __forceinline__ void kan_product_input_grad_tile(const float* __restrict__ dy, int out, const float* __restrict__ W,
                                                            const float* __restrict__ x, float* __restrict__ gx, int M, int in,
                                                            float t0, float inv_h) {
    constexpr int BM = 64, INPUTS = 16, BN = INPUTS * WIDTH, T = 128;
    __align__(16) __shared__ float As[2][8][BM + KAN_PRODUCT_PAD];
    __align__(16) __shared__ float Bs[2][8][BN + KAN_PRODUCT_PAD];

    const int t = (int)threadIdx.x, lane = t & 31, warp = t >> 5;
    const int tx = (warp % 2) * 8 + (lane & 7), ty = (warp / 2) * 4 + (lane >> 3);
    const int tilesN = in / INPUTS, N = in * WIDTH;
    const int m0 = (int)(blockIdx.x / tilesN) * BM, i0 = (int)(blockIdx.x % tilesN) * INPUTS;

    kan_product_operand<BM, T, true> a(dy, out, m0, M, 0, t);
    kan_product_operand<BN, T, false> b(W, N, i0 * WIDTH, N, 0, t);

    float acc[8][WIDTH];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < WIDTH; j++) acc[i][j] = 0.f;

    kan_product_steps<BM, BN>(a, b, As, Bs, out / 8, t, [&](const float* arow, const float* brow) {
        kan_f4 a0 = *reinterpret_cast<const kan_f4*>(arow + ty * 4);
        kan_f4 a1 = *reinterpret_cast<const kan_f4*>(arow + BM / 2 + ty * 4);
        const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
        float bv[WIDTH];
#pragma unroll
        for (int j = 0; j < WIDTH; j++) bv[j] = brow[tx * WIDTH + j];
#pragma unroll
        for (int i = 0; i < 8; i++)
#pragma unroll
            for (int j = 0; j < WIDTH; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    });

    const int input = i0 + tx;
#pragma unroll
    for (int i = 0; i < 8; i++) {
        int m = m0 + (i < 4 ? ty * 4 + i : BM / 2 + ty * 4 + i - 4);
        if (m >= M) continue;
        long long at = (long long)m * in + input;
        gx[at] = kan_input_grad_of<WIDTH>(acc[i], x[at], t0, inv_h);
    }
}

// K = 8 bases (U-KAN's grid of 5 intervals, cubic): 9 columns per input. 128 threads; at most 168 registers a thread
// (72 accumulators), three blocks per multiprocessor.
extern "C" __global__ void __launch_bounds__(128, 3) kan_product_input_grad_9(const float* __restrict__ dy, int out, const float* __restrict__ w,
                                                                              const float* __restrict__ x, float* __restrict__ gx, int M, int in,
                                                                              float t0, float inv_h) {
    kan_product_input_grad_tile<9>(dy, out, w, x, gx, M, in, t0, inv_h);
}
