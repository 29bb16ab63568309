// The float32 products of the KAN layers on the CUDA cores: C (M x N, row-major) = A (M x K) . B (K x N), every
// multiply-add a float32 fma (the arithmetic of PyTorch's default for products; the order of the sum differs from
// cuBLAS's, as cuBLAS's own kernels differ among themselves). Why not cuBLAS: U-KAN's products are thin (a layer of 128
// to 256 outputs contracts 9 features per input over thousands of tokens), and cuBLAS picks tiles that leave the GPU
// half idle on them (one 128-thread block per multiprocessor for y = F.W^T of the 128-channel stage at 256^2, its
// weight gradient at 26 TFLOP/s on an H200, docs/results.md). Here the tile and the split of the reduction are chosen
// per shape by timing (Layers/SplitReduction.cs), among the entries below and cuBLAS.
//
// The kernel is the classic register-blocked SGEMM: a block of (BM/8) x (BN/8) threads computes a BM x BN tile of C,
// each thread an 8 x 8 sub-tile made of four 4 x 4 corners (rows ty*4 and BM/2 + ty*4, columns tx*4 and BN/2 + tx*4)
// so that its operands come from shared memory as 16-byte reads. The reduction runs in steps of 8: the next step's A
// and B tiles are loaded from global memory into registers while the current one is multiplied out of shared memory
// (two shared buffers, one barrier per step). A warp covers 4 x 8 threads, so a step's shared reads are 4 distinct A
// vectors and 8 distinct B vectors per warp (one wavefront each). Operands stored along the reduction (row-major A,
// B = W^T of a row-major W) are transposed on their way into shared memory, whose rows are padded by 4 floats so that
// the two halves of a warp write different banks.
//
// Split reduction: grid.y = S slices of kChunk consecutive k each (the last one what is left of K); slice s writes
// C + s*M*N, and the caller adds the S partial products in a fixed order (partial_sums.cu) where S > 1. Requirements
// (checked by Native/KanProductKernels.cs): M, N, lda, ldb multiples of 4, 16-byte aligned operands, K and kChunk
// multiples of 8, every slice non-empty. Rows past M and columns past N are
// loaded as zeros and not stored, so any M and N (multiples of 4) take any tile.

#define KAN_PRODUCT_PAD 4

template <int BM, int BN, bool A_ROWS, bool B_COLUMNS>
__device__ __forceinline__ void kan_product_tile(const float* __restrict__ A, long long lda, const float* __restrict__ B, long long ldb,
                                                 float* __restrict__ C, int M, int N, int K, int kChunk) {
    // A_ROWS: A[m, k] = A[m * lda + k] (row-major, k contiguous); else A[m, k] = A[k * lda + m].
    // B_COLUMNS: B[k, n] = B[n * ldb + k] (k contiguous: B is W^T of a row-major W); else B[k, n] = B[k * ldb + n].
    constexpr int T = (BM / 8) * (BN / 8);         // threads
    constexpr int LA = 2 * BM / T, LB = 2 * BN / T; // 16-byte loads per thread and step: a tile is 8 x BM (8 x BN) floats
    static_assert(LA * T == 2 * BM && LB * T == 2 * BN && BN >= 64, "tile shape");
    __align__(16) __shared__ float As[2][8][BM + KAN_PRODUCT_PAD];
    __align__(16) __shared__ float Bs[2][8][BN + KAN_PRODUCT_PAD];

    const int t = (int)threadIdx.x, lane = t & 31, warp = t >> 5;
    constexpr int WX = BN / 64;                     // warps across the tile's columns
    const int tx = (warp % WX) * 8 + (lane & 7), ty = (warp / WX) * 4 + (lane >> 3);
    const int tilesN = (N + BN - 1) / BN;
    const int m0 = (int)(blockIdx.x / tilesN) * BM, n0 = (int)(blockIdx.x % tilesN) * BN;
    const long long k0 = (long long)blockIdx.y * kChunk;
    C += (long long)blockIdx.y * M * N;

    kan_f4 ra[LA], rb[LB];
    // The step at reduction offset k (absolute) into registers; rows (columns) past M (N) as zeros.
    auto load = [&](long long k) {
#pragma unroll
        for (int i = 0; i < LA; i++) {
            int f = t + i * T;
            if (A_ROWS) {
                int m = m0 + (f >> 1);
                ra[i] = m < M ? *reinterpret_cast<const kan_f4*>(A + m * lda + k + (f & 1) * 4) : kan_f4{0.f, 0.f, 0.f, 0.f};
            } else {
                int m = m0 + (f % (BM / 4)) * 4;
                ra[i] = m < M ? *reinterpret_cast<const kan_f4*>(A + (k + f / (BM / 4)) * lda + m) : kan_f4{0.f, 0.f, 0.f, 0.f};
            }
        }
#pragma unroll
        for (int i = 0; i < LB; i++) {
            int f = t + i * T;
            if (B_COLUMNS) {
                int n = n0 + (f >> 1);
                rb[i] = n < N ? *reinterpret_cast<const kan_f4*>(B + n * ldb + k + (f & 1) * 4) : kan_f4{0.f, 0.f, 0.f, 0.f};
            } else {
                int n = n0 + (f % (BN / 4)) * 4;
                rb[i] = n < N ? *reinterpret_cast<const kan_f4*>(B + (k + f / (BN / 4)) * ldb + n) : kan_f4{0.f, 0.f, 0.f, 0.f};
            }
        }
    };
    // The registers into shared buffer `buf`, as [k][m] and [k][n].
    auto store = [&](int buf) {
#pragma unroll
        for (int i = 0; i < LA; i++) {
            int f = t + i * T;
            if (A_ROWS) {
                int m = f >> 1, kq = (f & 1) * 4;
                As[buf][kq][m] = ra[i].x;
                As[buf][kq + 1][m] = ra[i].y;
                As[buf][kq + 2][m] = ra[i].z;
                As[buf][kq + 3][m] = ra[i].w;
            } else {
                *reinterpret_cast<kan_f4*>(&As[buf][f / (BM / 4)][(f % (BM / 4)) * 4]) = ra[i];
            }
        }
#pragma unroll
        for (int i = 0; i < LB; i++) {
            int f = t + i * T;
            if (B_COLUMNS) {
                int n = f >> 1, kq = (f & 1) * 4;
                Bs[buf][kq][n] = rb[i].x;
                Bs[buf][kq + 1][n] = rb[i].y;
                Bs[buf][kq + 2][n] = rb[i].z;
                Bs[buf][kq + 3][n] = rb[i].w;
            } else {
                *reinterpret_cast<kan_f4*>(&Bs[buf][f / (BN / 4)][(f % (BN / 4)) * 4]) = rb[i];
            }
        }
    };

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] = 0.f;

    const int steps = (int)((k0 + kChunk < K ? k0 + kChunk : K) - k0) / 8;   // the last slice may be shorter
    if (steps <= 0) return;
    load(k0);
    store(0);
    __syncthreads();
    for (int s = 0; s < steps; s++) {
        const int cur = s & 1;
        if (s + 1 < steps) load(k0 + (long long)(s + 1) * 8);
#pragma unroll
        for (int kk = 0; kk < 8; kk++) {
            kan_f4 a0 = *reinterpret_cast<const kan_f4*>(&As[cur][kk][ty * 4]);
            kan_f4 a1 = *reinterpret_cast<const kan_f4*>(&As[cur][kk][BM / 2 + ty * 4]);
            kan_f4 b0 = *reinterpret_cast<const kan_f4*>(&Bs[cur][kk][tx * 4]);
            kan_f4 b1 = *reinterpret_cast<const kan_f4*>(&Bs[cur][kk][BN / 2 + tx * 4]);
            const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        if (s + 1 < steps) store(cur ^ 1);
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 8; i++) {
        int m = m0 + (i < 4 ? ty * 4 + i : BM / 2 + ty * 4 + i - 4);
        if (m >= M) continue;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int n = n0 + h * (BN / 2) + tx * 4;
            if (n < N)
                *reinterpret_cast<kan_f4*>(C + (long long)m * N + n) = kan_f4{acc[i][4 * h], acc[i][4 * h + 1], acc[i][4 * h + 2], acc[i][4 * h + 3]};
        }
    }
}

// Entries kan_product_<BM>x<BN>_<layout>, layout in BLAS's letters for row-major C = op(A) . op(B): nt = A row-major and
// B = W^T (the forward y = F . W^T), tn = A = dy^T and B row-major (the weight gradient dW = dy^T . F), nn = both
// row-major (the features' gradient dF = dy . W). Threads per block: (BM/8) * (BN/8); grid (tiles, splits). The launch
// bounds ask for 512 resident threads per multiprocessor (at most 128 registers a thread: 64 accumulators, 16 operands,
// the next step's loads and addresses), so that a second block's loads hide the first one's waits.
#define KAN_PRODUCT_ENTRY(BM, BN, THREADS, MIN_BLOCKS, NAME, A_ROWS, B_COLUMNS)                                            \
    extern "C" __global__ void __launch_bounds__(THREADS, MIN_BLOCKS) kan_product_##BM##x##BN##_##NAME(                      \
        const float* __restrict__ a, long long lda, const float* __restrict__ b, long long ldb, float* __restrict__ c, int M, \
        int N, int K, int kChunk) {                                                                                             \
        static_assert((BM / 8) * (BN / 8) == THREADS && THREADS * MIN_BLOCKS == 512, "launch bounds");                        \
        kan_product_tile<BM, BN, A_ROWS, B_COLUMNS>(a, lda, b, ldb, c, M, N, K, kChunk);                                          \
    }
#define KAN_PRODUCT_LAYOUTS(BM, BN, THREADS, MIN_BLOCKS)                       \
    KAN_PRODUCT_ENTRY(BM, BN, THREADS, MIN_BLOCKS, nt, true, true)             \
    KAN_PRODUCT_ENTRY(BM, BN, THREADS, MIN_BLOCKS, tn, false, false)           \
    KAN_PRODUCT_ENTRY(BM, BN, THREADS, MIN_BLOCKS, nn, true, false)
KAN_PRODUCT_LAYOUTS(128, 128, 256, 2)
KAN_PRODUCT_LAYOUTS(128, 64, 128, 4)
KAN_PRODUCT_LAYOUTS(64, 128, 128, 4)
KAN_PRODUCT_LAYOUTS(64, 64, 64, 8)
