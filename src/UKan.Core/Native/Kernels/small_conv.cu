// 3 x 3 convolutions with few channels (stride 1, zero padding 1, dilation 1, one group) over float32 channels-last
// maps, on the tensor cores in TF32 as PyTorch's default runs convolutions (torch.backends.cudnn.allow_tf32): forward,
// input gradient and weight gradient for U-KAN's full- and half-resolution stages (16 -> 16, 16 -> 32, 32 -> 32 and
// 32 -> 16 channels in the paper's model; 8 to 32 channels in general). With so few channels cuDNN's implicit-GEMM
// kernels run far below the GPU's speed (on an H200 the 16 -> 16 convolution at 256 x 256, batch 8, takes about 0.1 ms
// in each of its three kernels, plus layout conversions for the weight gradient) for 1.2 G multiply-adds and 34 MB per
// map. Written as implicit GEMMs over mma.sync m16n8k8 (TF32 inputs rounded to nearest, float accumulation) whose
// operands are read straight from the maps: the im2col matrix is never formed.
//
// Notation: x (N, H, W, CIN) in memory (channels-last), y (N, H, W, COUT), the layer's weight w (COUT, 3, 3, CIN) in
// memory (its channels-last order, as the optimizer's flat buffer holds it), tap t = 3 kh + kw at offset
// d(t) = (kh - 1, kw - 1), reduction index k = t * CIN + i. Forward: y[p, o] = b[o] + sum_k x[p + d(t), i] w[o, t, i]
// (x = 0 off the map): M = pixels, N = COUT, K = 9 CIN. Input gradient: gx[q, i] = sum_t sum_o gy[q - d(t), o] w[o, t, i]
// = sum_t' sum_o gy[q + d(t'), o] w[o, 8 - t', i], the forward of gy with the weight transposed (COUT inputs, CIN
// outputs) and its taps reversed, so one body serves both (FLIP). Weight gradient: gw[o, t, i] = sum_p gy[p, o]
// x[p + d(t), i]: M = COUT, N = 9 CIN, K = pixels.
//
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, per lane (g = lane / 4, c = lane % 4): A (16 x 8) a0 = A[g][c],
// a1 = A[g + 8][c], a2 = A[g][c + 4], a3 = A[g + 8][c + 4]; B (8 x 8) b0 = B[c][g], b1 = B[c + 4][g]; C (16 x 8)
// c0 = C[g][2c], c1 = C[g][2c + 1], c2 = C[g + 8][2c], c3 = C[g + 8][2c + 1] (PTX ISA, "Matrix fragments for
// mma.m16n8k8" with .tf32). The CPU tests emulate the instruction with these layouts (Emulation/cuda_emulation.h).

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
// v rounded to TF32 (10 mantissa bits, to nearest, ties away from zero), as the bits mma reads.
__device__ __forceinline__ unsigned conv_tf32(float v) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
    return r;
}
// d += A B for one warp's fragments (see the header).
__device__ __forceinline__ void conv_mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
#elif defined(__CUDA_ARCH__)
// GPUs before sm_80 have no TF32 mma: the program still compiles for them (its other kernels run there), and the host
// never launches a kernel that needs these (Native/FusedCudaKernels.cs, TensorCores); a launch anyway stops the kernel.
__device__ __forceinline__ unsigned conv_tf32(float v) { __trap(); return 0u; }
__device__ __forceinline__ void conv_mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) { __trap(); }
#else
// The CPU emulation of the tests supplies both (emulated_tf32, emulated_mma_m16n8k8_tf32).
__device__ __forceinline__ unsigned conv_tf32(float v) { return emulated_tf32(v); }
__device__ __forceinline__ void conv_mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    emulated_mma_m16n8k8_tf32(d, a, b0, b1);
}
#endif

// Pixels of one image row per warp in the forward: two m16 tiles.
#define CONV3X3_WARP_PIXELS 32

// Four or two floats moved as one 16- or 8-byte access (no CUDA header: NVRTC compiles this program alone).
struct __align__(16) conv_f4 { float x, y, z, w; };
struct __align__(8) conv_f2 { float x, y; };

// The order of the reduction inside an mma is free as long as A and B agree, so the channels of one k8 chunk are
// chosen to let a lane fetch its A values with one vector load per pixel instead of four scalar ones: lane c's
// columns c and c + 4 of chunk k8 are channels conv_chan(k8, c, 0) and conv_chan(k8, c, 1). With 16 or more input
// channels a lane loads channels 16j + 4c .. 16j + 4c + 3 (16 bytes) and gives the first two to chunk 2j, the last two
// to chunk 2j + 1; with 8, channels 2c and 2c + 1 (8 bytes) to the one chunk. A warp's load then covers 8 pixels'
// consecutive channels: whole cache lines instead of a 16-byte piece of eight lines per instruction.
template <int CIN>
__device__ __forceinline__ int conv_chan(int k8, int c, int half) {
    return CIN == 8 ? 2 * c + half : 16 * (k8 >> 1) + 4 * c + 2 * (k8 & 1) + half;
}

// The lane's values of pixel w (0 off the map or `row` null) for chunk pair j (CIN >= 16: channels 16j + 4c ..+3) or
// the single chunk (CIN = 8: channels 2c, 2c + 1 in x, y).
template <int CIN>
__device__ __forceinline__ conv_f4 conv_pixel(const float* __restrict__ row, int w, int W, int j, int c) {
    if (row == nullptr || w < 0 || w >= W) return conv_f4{0.0f, 0.0f, 0.0f, 0.0f};
    const float* p = row + (long long)w * CIN;
    if (CIN == 8) {
        conv_f2 v = *reinterpret_cast<const conv_f2*>(p + 2 * c);
        return conv_f4{v.x, v.y, 0.0f, 0.0f};
    }
    return *reinterpret_cast<const conv_f4*>(p + 16 * j + 4 * c);
}

// The end of the forward with STATS: the block's (count, mean, M2) per output channel, written as its row of `stats`
// (gridDim.x groups of 3 x COUT: counts, means, M2s), the layout of the batch norm's own statistics pass
// (batch_norm_relu.cu, bn_relu_stats), whose merge (bn_relu_stats_finalize) then reads them instead: the batch norm
// after this convolution need not read y once more. Each lane turns its sums into (n, mean, M2); the eight lanes of
// equal c (the same channels) merge by shuffles, lane c of each warp ending with its warp's; then the first COUT threads
// merge the warps in order. Fixed orders throughout: the same input gives the same bits. At most
// CONV3X3_STATS_WARPS warps a block (the launcher's cap for this entry; shared memory).
#define CONV3X3_STATS_WARPS 16
template <int COUT>
__device__ __forceinline__ void conv3x3_stats_store(const float (&k0)[COUT / 8][2], const float (&s1)[COUT / 8][2],
                                                    const float (&s2)[COUT / 8][2], float seen, float* __restrict__ stats) {
    constexpr int N8 = COUT / 8;
    __shared__ float wn[CONV3X3_STATS_WARPS][COUT], wm[CONV3X3_STATS_WARPS][COUT], wq[CONV3X3_STATS_WARPS][COUT];
    int lane = threadIdx.x & 31, c = lane & 3, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int n8 = 0; n8 < N8; n8++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            float n = seen, mean = seen > 0.0f ? k0[n8][h] + s1[n8][h] / seen : 0.0f;
            float m2 = seen > 0.0f ? fmaxf(s2[n8][h] - s1[n8][h] * (s1[n8][h] / seen), 0.0f) : 0.0f;
            for (int offset = 16; offset >= 4; offset >>= 1) {
                float nb = __shfl_down_sync(0xffffffffu, n, offset), mb = __shfl_down_sync(0xffffffffu, mean, offset);
                float qb = __shfl_down_sync(0xffffffffu, m2, offset);
                chan_merge<float>(n, mean, m2, nb, mb, qb);
            }
            if (lane < 4) {
                int o = n8 * 8 + 2 * c + h;
                wn[warp][o] = n; wm[warp][o] = mean; wq[warp][o] = m2;
            }
        }
    __syncthreads();
    if ((int)threadIdx.x < COUT) {
        int o = threadIdx.x;
        float n = wn[0][o], mean = wm[0][o], m2 = wq[0][o];
        for (int i = 1; i < warps; i++) chan_merge<float>(n, mean, m2, wn[i][o], wm[i][o], wq[i][o]);
        stats[(3LL * blockIdx.x) * COUT + o] = n;
        stats[(3LL * blockIdx.x + 1) * COUT + o] = mean;
        stats[(3LL * blockIdx.x + 2) * COUT + o] = m2;
    }
}

// The convolution of x (CIN channels) into y (COUT channels). The block first lays the weight out in shared memory as
// B fragments in TF32, [tap][k8][n8][lane][2] (rows in conv_chan's channel order), so that a lane reads its two values
// of an n8 tile as one 8-byte load without bank conflicts; then each warp takes strips of 32 pixels of one image row
// (grid-stride over all strips; the launcher sizes the grid to fill the GPU a few times, so the weights are laid out
// once per block, not per strip), and for each tap and 16 input channels loads its A values of the strip's pixels
// (one vector load per pixel; L1 serves the neighbouring taps' reuse) and multiplies them by the COUT / 8 B fragments
// of the two chunks. FLIP: the input gradient (x is dL/dy, `weight` the layer's (CIN, 3, 3, COUT) weight, y is dL/dx).
// bias may be null.
template <int CIN, int COUT, bool FLIP, bool STATS = false>
__device__ __forceinline__ void conv3x3_body(const float* __restrict__ x, const float* __restrict__ weight, const float* __restrict__ bias,
                                            float* __restrict__ y, int N, int H, int W, float* __restrict__ stats = nullptr) {
    constexpr int K8 = CIN / 8, N8 = COUT / 8, PAIRS = CIN >= 16 ? CIN / 16 : 1;
    __shared__ conv_f2 bpairs[9 * K8 * N8 * 32];   // declared as pairs for the 8-byte alignment of the lanes' loads
    unsigned* bfrag = reinterpret_cast<unsigned*>(bpairs);
    // Unrolled so that several of the weight's loads are in flight at once (a block lays out up to 9,216 values).
#pragma unroll 4
    for (int e = threadIdx.x; e < 9 * K8 * N8 * 64; e += blockDim.x) {
        int half = e & 1, lane = (e >> 1) & 31, n8 = (e >> 6) % N8, k8 = (e >> 6) / N8 % K8, t = (e >> 6) / N8 / K8;
        int i = conv_chan<CIN>(k8, lane & 3, half), o = n8 * 8 + (lane >> 2);   // B[k][n]: k = input channel i, n = output o
        // Forward: w[o, t, i] at (o * 9 + t) * CIN + i. FLIP: the layer's w[i, 8 - t, o] (its output i, its input o).
        float v = FLIP ? weight[(i * 9 + 8 - t) * COUT + o] : weight[(o * 9 + t) * CIN + i];
        bfrag[e] = conv_tf32(v);
    }
    __syncthreads();

    int lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
    // STATS: the lane's running sums for the batch norm that follows, per output channel it holds (n8 * 8 + 2c + h):
    // sums of v - k and (v - k)^2 with k the channel's first value this lane sees, over `seen` pixels.
    float k0[STATS ? N8 : 1][2], s1[STATS ? N8 : 1][2], s2[STATS ? N8 : 1][2], seen = 0.0f;
    if constexpr (STATS)
#pragma unroll
        for (int n8 = 0; n8 < N8; n8++)
#pragma unroll
            for (int h = 0; h < 2; h++) k0[n8][h] = s1[n8][h] = s2[n8][h] = 0.0f;
    int stripsPerRow = (W + CONV3X3_WARP_PIXELS - 1) / CONV3X3_WARP_PIXELS;
    long long strips = (long long)N * H * stripsPerRow;
    long long warps = (long long)gridDim.x * (blockDim.x >> 5);
    for (long long s = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); s < strips; s += warps) {
        long long row = s / stripsPerRow;                       // n * H + h
        int h = (int)(row % H), w0 = (int)(s - row * stripsPerRow) * CONV3X3_WARP_PIXELS;
        float acc[2][N8][4];
#pragma unroll
        for (int n8 = 0; n8 < N8; n8++) {
            float b0 = bias ? bias[n8 * 8 + 2 * c] : 0.0f, b1 = bias ? bias[n8 * 8 + 2 * c + 1] : 0.0f;
#pragma unroll
            for (int m = 0; m < 2; m++) { acc[m][n8][0] = b0; acc[m][n8][1] = b1; acc[m][n8][2] = b0; acc[m][n8][3] = b1; }
        }
        // Three taps (one kernel row) unrolled: the next tap's loads can issue while this one's products run.
#pragma unroll 3
        for (int t = 0; t < 9; t++) {
            int dh = t / 3 - 1, dw = t % 3 - 1;
            const float* src = h + dh >= 0 && h + dh < H ? x + (row + dh) * W * CIN : nullptr;
#pragma unroll
            for (int j = 0; j < PAIRS; j++) {
                // Pixels g, g + 8 of each m16 tile: rows g and g + 8 of A.
                conv_f4 v[2][2];
#pragma unroll
                for (int m = 0; m < 2; m++) {
                    v[m][0] = conv_pixel<CIN>(src, w0 + m * 16 + g + dw, W, j, c);
                    v[m][1] = conv_pixel<CIN>(src, w0 + m * 16 + g + 8 + dw, W, j, c);
                }
#pragma unroll
                for (int part = 0; part < (CIN == 8 ? 1 : 2); part++) {
                    int k8 = CIN == 8 ? 0 : 2 * j + part;
                    unsigned a[2][4];
#pragma unroll
                    for (int m = 0; m < 2; m++) {
                        a[m][0] = conv_tf32(part == 0 ? v[m][0].x : v[m][0].z);   // A[g][c]
                        a[m][1] = conv_tf32(part == 0 ? v[m][1].x : v[m][1].z);   // A[g + 8][c]
                        a[m][2] = conv_tf32(part == 0 ? v[m][0].y : v[m][0].w);   // A[g][c + 4]
                        a[m][3] = conv_tf32(part == 0 ? v[m][1].y : v[m][1].w);   // A[g + 8][c + 4]
                    }
#pragma unroll
                    for (int n8 = 0; n8 < N8; n8++) {
                        const conv_f2 b = *reinterpret_cast<const conv_f2*>(bfrag + (((t * K8 + k8) * N8 + n8) * 32 + lane) * 2);
                        unsigned b0 = __float_as_uint(b.x), b1 = __float_as_uint(b.y);
#pragma unroll
                        for (int m = 0; m < 2; m++) conv_mma(acc[m][n8], a[m], b0, b1);
                    }
                }
            }
        }
        float* out = y + row * W * COUT;
#pragma unroll
        for (int m = 0; m < 2; m++)
#pragma unroll
            for (int half = 0; half < 2; half++) {
                int p = w0 + m * 16 + g + 8 * half;
                if (p >= W) continue;
#pragma unroll
                for (int n8 = 0; n8 < N8; n8++)
                    *reinterpret_cast<conv_f2*>(out + (long long)p * COUT + n8 * 8 + 2 * c) =
                        conv_f2{acc[m][n8][2 * half], acc[m][n8][2 * half + 1]};
                if constexpr (STATS) {
                    if (seen == 0.0f)
#pragma unroll
                        for (int n8 = 0; n8 < N8; n8++)
#pragma unroll
                            for (int h = 0; h < 2; h++) k0[n8][h] = acc[m][n8][2 * half + h];
#pragma unroll
                    for (int n8 = 0; n8 < N8; n8++)
#pragma unroll
                        for (int h = 0; h < 2; h++) {
                            float d = acc[m][n8][2 * half + h] - k0[n8][h];
                            s1[n8][h] += d;
                            s2[n8][h] = fmaf(d, d, s2[n8][h]);
                        }
                    seen += 1.0f;
                }
            }
    }
    if constexpr (STATS) conv3x3_stats_store<COUT>(k0, s1, s2, seen, stats);
}

// The weight gradients' A fragments (A = gy^T) for one chunk of 8 pixels: rows g and g + 8 of m16 tile m are output
// channels 16 (m0 + m) + 2g and + 1 (one 8-byte load per pixel), columns c and c + 4 the pixels p0 and p1 of row
// `grow`; zero past the row's end or the channels; as TF32 bits.
template <int COUT, int M16>
__device__ __forceinline__ void conv_gy_fragments(const float* __restrict__ grow, int p0, int p1, int W, int g, int m0, unsigned (&a)[M16][4]) {
#pragma unroll
    for (int m = 0; m < M16; m++) {
        int o = (m0 + m) * 16 + 2 * g;
        conv_f2 u0{0.0f, 0.0f}, u1{0.0f, 0.0f};
        if (o < COUT && p0 < W) u0 = *reinterpret_cast<const conv_f2*>(grow + (long long)p0 * COUT + o);
        if (o < COUT && p1 < W) u1 = *reinterpret_cast<const conv_f2*>(grow + (long long)p1 * COUT + o);
        a[m][0] = conv_tf32(u0.x); a[m][1] = conv_tf32(u0.y); a[m][2] = conv_tf32(u1.x); a[m][3] = conv_tf32(u1.y);
    }
}

// A warp's accumulators of tap t into its block's row of weight-gradient partials (the layer's weight order, 9 * CIN *
// COUT): C[row][col] of tile (m, n8) is output channel 16 (m0 + m) + 2g + (q >> 1) for rows g (q < 2) and g + 8, input
// channel of column n = 2c + (q & 1) as the weight-gradient kernels below order them.
template <int CIN, int COUT, int M16, int N8>
__device__ __forceinline__ void conv_store_weight_partial(float* __restrict__ out, const float (&acc)[M16][N8][4], int t, int m0, int g, int c) {
#pragma unroll
    for (int m = 0; m < M16; m++)
#pragma unroll
        for (int n8 = 0; n8 < N8; n8++)
#pragma unroll
            for (int q = 0; q < 4; q++) {
                int o = (m0 + m) * 16 + 2 * g + (q >> 1), n = 2 * c + (q & 1);
                int i = CIN == 8 ? n : 16 * (n8 >> 1) + 2 * n + (n8 & 1);
                if (o < COUT) out[((long long)o * 9 + t) * CIN + i] = acc[m][n8][q];
            }
}

// Per-block partial weight gradients. Nine warps a block, warp t for tap t: over the block's image rows
// [r0, r0 + rowsPerBlock), 8 pixels at a time (the K of one mma), it multiplies A = gy^T (COUT x 8 pixels) by B = the 8
// pixels' x at offset d(t) (8 pixels x CIN), accumulating gw[:, t, :] in its fragments. As in the forward, the rows and
// columns of the tiles are channels in an order that lets a lane load two neighbouring channels at once: row g of m16
// tile m is output channel 16m + 2g and row g + 8 channel 16m + 2g + 1 (A's a0/a1 and a2/a3: one 8-byte load of gy per
// pixel); with 16 or more input channels, n8 tiles come in pairs 2j, 2j + 1 whose column n is input channel 16j + 2n
// and 16j + 2n + 1 (b0 of both tiles: one 8-byte load of x), with 8 the columns are the channels in order. The warps of
// a block read the same gy and neighbouring x (L1). Each block then writes its sums as its row of `partial`
// (gridDim.x rows of 9 * CIN * COUT in the layer's weight order), which partial_sums.cu's merge adds in a fixed order:
// no atomics, so the result does not depend on scheduling.
template <int CIN, int COUT>
__device__ __forceinline__ void conv3x3_weight_partial_body(const float* __restrict__ x, const float* __restrict__ gy, float* __restrict__ partial,
                                                            int N, int H, int W, int rowsPerBlock) {
    constexpr int M16 = (COUT + 15) / 16, N8 = CIN / 8;
    int lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3, t = threadIdx.x >> 5;
    int dh = t / 3 - 1, dw = t % 3 - 1;
    float acc[M16][N8][4];
#pragma unroll
    for (int m = 0; m < M16; m++)
#pragma unroll
        for (int n8 = 0; n8 < N8; n8++)
#pragma unroll
            for (int q = 0; q < 4; q++) acc[m][n8][q] = 0.0f;

    long long rows = (long long)N * H, r0 = (long long)blockIdx.x * rowsPerBlock;
    long long r1 = r0 + rowsPerBlock < rows ? r0 + rowsPerBlock : rows;
    for (long long row = r0; row < r1; row++) {
        int hh = (int)(row % H) + dh;
        if (hh < 0 || hh >= H) continue;                 // the whole row's products are zero for this tap
        const float* grow = gy + row * W * COUT;
        const float* xrow = x + (row + dh) * W * CIN;
        // Four chunks (32 pixels) unrolled: their loads can all be in flight before the products that need them.
#pragma unroll 4
        for (int w0 = 0; w0 < W; w0 += 8) {
            // A: pixels w0 + c (columns c) and w0 + c + 4 (columns c + 4); output channels 16m + 2g, 16m + 2g + 1.
            int p0 = w0 + c, p1 = w0 + c + 4;
            unsigned a[M16][4];
            conv_gy_fragments<COUT, M16>(grow, p0, p1, W, g, 0, a);
            // B: x at the same pixels shifted by the tap (rows c and c + 4 of B).
            int q0 = p0 + dw, q1 = p1 + dw;
            bool in0 = p0 < W && q0 >= 0 && q0 < W, in1 = p1 < W && q1 >= 0 && q1 < W;
            if (CIN == 8) {
                unsigned b0 = in0 ? conv_tf32(xrow[(long long)q0 * CIN + g]) : 0u;
                unsigned b1 = in1 ? conv_tf32(xrow[(long long)q1 * CIN + g]) : 0u;
#pragma unroll
                for (int m = 0; m < M16; m++) conv_mma(acc[m][0], a[m], b0, b1);
            } else {
#pragma unroll
                for (int j = 0; j < N8 / 2; j++) {
                    conv_f2 v0{0.0f, 0.0f}, v1{0.0f, 0.0f};
                    if (in0) v0 = *reinterpret_cast<const conv_f2*>(xrow + (long long)q0 * CIN + 16 * j + 2 * g);
                    if (in1) v1 = *reinterpret_cast<const conv_f2*>(xrow + (long long)q1 * CIN + 16 * j + 2 * g);
                    unsigned e0 = conv_tf32(v0.x), e1 = conv_tf32(v1.x), f0 = conv_tf32(v0.y), f1 = conv_tf32(v1.y);
#pragma unroll
                    for (int m = 0; m < M16; m++) {
                        conv_mma(acc[m][2 * j], a[m], e0, e1);
                        conv_mma(acc[m][2 * j + 1], a[m], f0, f1);
                    }
                }
            }
        }
    }
    conv_store_weight_partial<CIN, COUT>(partial + (long long)blockIdx.x * 9 * CIN * COUT, acc, t, 0, g, c);
}

// Per-block partial weight gradients with a warp per kernel row instead of a warp per tap (three warps a block, warp w
// for dh = w - 1; six for 32 -> 32, see SPLIT): the three taps of a row share the warp's loads. For each chunk of 8
// pixels the warp loads A = gy^T and the B values of dw = 0 (x at the chunk's own pixels) as the per-tap kernel does,
// and takes those of dw = +1 and dw = -1 from the neighbouring lanes (__shfl_sync within each group of four lanes of
// equal g: lane c holds pixels w0 + c and w0 + c + 4, so pixel w0 + c + 1 is lane c + 1's first, or for c = 3 lane 0's
// second), loading only the one pixel past each end of the chunk (w0 + 8 for lane 3, w0 - 1 for lane 0). A third of
// the loads of x and of gy per product; the partial row is laid out as the per-tap kernel's, so partial_sums.cu's merge
// is the same. The TF32 bits are formed once per loaded value and shuffled as bits.
template <int CIN, int COUT>
__device__ __forceinline__ void conv3x3_weight_rows_body(const float* __restrict__ x, const float* __restrict__ gy, float* __restrict__ partial,
                                                         int N, int H, int W, int rowsPerBlock) {
    // SPLIT: with more than 12 tiles of accumulators for three taps (32 -> 32), each kernel row takes two warps, one per
    // half of the output channels (both load x; each its half of gy): 6 warps a block.
    constexpr int N8 = CIN / 8, PAIRS = CIN == 8 ? 1 : N8 / 2, M16ALL = (COUT + 15) / 16;
    constexpr int SPLIT = 3 * M16ALL * N8 <= 12 ? 1 : 2, M16 = M16ALL / SPLIT;
    int lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3, warp = (int)(threadIdx.x >> 5);
    int dh = warp % 3 - 1, m0 = warp / 3 * M16;   // the warp's kernel row and its first m16 tile of output channels
    int up = (lane & ~3) | ((c + 1) & 3), down = (lane & ~3) | ((c + 3) & 3);   // the lanes of pixel + 1 and pixel - 1
    float acc[3][M16][N8][4];
#pragma unroll
    for (int d = 0; d < 3; d++)
#pragma unroll
        for (int m = 0; m < M16; m++)
#pragma unroll
            for (int n8 = 0; n8 < N8; n8++)
#pragma unroll
                for (int q = 0; q < 4; q++) acc[d][m][n8][q] = 0.0f;

    long long rows = (long long)N * H, r0 = (long long)blockIdx.x * rowsPerBlock;
    long long r1 = r0 + rowsPerBlock < rows ? r0 + rowsPerBlock : rows;
    for (long long row = r0; row < r1; row++) {
        int hh = (int)(row % H) + dh;
        if (hh < 0 || hh >= H) continue;                 // the whole row's products are zero for this kernel row
        const float* grow = gy + row * W * COUT;
        const float* xrow = x + (row + dh) * W * CIN;
#pragma unroll 2
        for (int w0 = 0; w0 < W; w0 += 8) {
            int p0 = w0 + c, p1 = w0 + c + 4;
            unsigned a[M16][4];
            conv_gy_fragments<COUT, M16>(grow, p0, p1, W, g, m0, a);
            // Channel offset of this lane's values in a pixel: 8 channels, channel g; else pair j's channels 16j + 2g, + 1.
#pragma unroll
            for (int j = 0; j < PAIRS; j++) {
                int at = CIN == 8 ? g : 16 * j + 2 * g;
                int width = CIN == 8 ? 1 : 2;             // values a lane takes per pixel (e: channel at, f: at + 1)
                conv_f2 v0{0.0f, 0.0f}, v1{0.0f, 0.0f}, after{0.0f, 0.0f}, before{0.0f, 0.0f};
                if (width == 1) {
                    if (p0 < W) v0.x = xrow[(long long)p0 * CIN + at];
                    if (p1 < W) v1.x = xrow[(long long)p1 * CIN + at];
                    if (c == 3 && w0 + 8 < W) after.x = xrow[(long long)(w0 + 8) * CIN + at];
                    if (c == 0 && w0 >= 1) before.x = xrow[(long long)(w0 - 1) * CIN + at];
                } else {
                    if (p0 < W) v0 = *reinterpret_cast<const conv_f2*>(xrow + (long long)p0 * CIN + at);
                    if (p1 < W) v1 = *reinterpret_cast<const conv_f2*>(xrow + (long long)p1 * CIN + at);
                    if (c == 3 && w0 + 8 < W) after = *reinterpret_cast<const conv_f2*>(xrow + (long long)(w0 + 8) * CIN + at);
                    if (c == 0 && w0 >= 1) before = *reinterpret_cast<const conv_f2*>(xrow + (long long)(w0 - 1) * CIN + at);
                }
                // b[d][k][h]: tap dw = d - 1, row k (pixel p0 or p1) of B, value h (channel at + h).
                unsigned b[3][2][2];
                b[1][0][0] = conv_tf32(v0.x); b[1][0][1] = conv_tf32(v0.y); b[1][1][0] = conv_tf32(v1.x); b[1][1][1] = conv_tf32(v1.y);
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    if (h == 1 && width == 1) { b[0][0][1] = b[0][1][1] = b[2][0][1] = b[2][1][1] = 0u; continue; }
                    unsigned s0 = __shfl_sync(0xffffffffu, b[1][0][h], up), s1 = __shfl_sync(0xffffffffu, b[1][1][h], up);
                    unsigned r0 = __shfl_sync(0xffffffffu, b[1][0][h], down), r1 = __shfl_sync(0xffffffffu, b[1][1][h], down);
                    unsigned after_h = conv_tf32(h == 0 ? after.x : after.y), before_h = conv_tf32(h == 0 ? before.x : before.y);
                    b[2][0][h] = c < 3 ? s0 : s1;         // pixel p0 + 1: lane c + 1's first, or lane 0's second (w0 + 4)
                    b[2][1][h] = c < 3 ? s1 : after_h;    // pixel p1 + 1: lane c + 1's second, or w0 + 8
                    b[0][0][h] = c > 0 ? r0 : before_h;   // pixel p0 - 1: lane c - 1's first, or w0 - 1
                    b[0][1][h] = c > 0 ? r1 : r0;         // pixel p1 - 1: lane c - 1's second, or lane 3's first (w0 + 3)
                }
#pragma unroll
                for (int d = 0; d < 3; d++)
#pragma unroll
                    for (int m = 0; m < M16; m++) {
                        if (CIN == 8) {
                            conv_mma(acc[d][m][0], a[m], b[d][0][0], b[d][1][0]);
                        } else {
                            conv_mma(acc[d][m][2 * j], a[m], b[d][0][0], b[d][1][0]);
                            conv_mma(acc[d][m][2 * j + 1], a[m], b[d][0][1], b[d][1][1]);
                        }
                    }
            }
        }
    }
    // As the per-tap kernel, tap t = 3 (dh + 1) + d for the warp's tiles from m0.
    float* out = partial + (long long)blockIdx.x * 9 * CIN * COUT;
#pragma unroll
    for (int d = 0; d < 3; d++) conv_store_weight_partial<CIN, COUT>(out, acc[d], 3 * (dh + 1) + d, m0, g, c);
}

// The entries of one (CI -> CO) layer shape: forward (with an optional bias), forward with the batch norm's statistics
// of its output (no bias: the layers whose batch norm follows run without one, Layers/ConvBatchNorm.cs), input
// gradient (the flipped body with CO inputs and CI outputs) and per-block weight gradient. The launcher (Native/SmallConvKernels.cs) lists the same shapes.
#define CONV3X3_ENTRIES(CI, CO)                                                                                              \
    extern "C" __global__ void conv3x3_forward_##CI##_##CO(const float* __restrict__ x, const float* __restrict__ w,        \
                                                           const float* __restrict__ b, float* __restrict__ y, int N, int H,  \
                                                           int W) {                                                          \
        conv3x3_body<CI, CO, false>(x, w, b, y, N, H, W);                                                                    \
    }                                                                                                                        \
    extern "C" __global__ void conv3x3_forward_stats_##CI##_##CO(const float* __restrict__ x, const float* __restrict__ w,  \
                                                                 float* __restrict__ y, float* __restrict__ stats, int N,    \
                                                                 int H, int W) {                                             \
        conv3x3_body<CI, CO, false, true>(x, w, nullptr, y, N, H, W, stats);                                                 \
    }                                                                                                                        \
    extern "C" __global__ void conv3x3_input_grad_##CI##_##CO(const float* __restrict__ gy, const float* __restrict__ w,    \
                                                              float* __restrict__ gx, int N, int H, int W) {                 \
        conv3x3_body<CO, CI, true>(gy, w, nullptr, gx, N, H, W);                                                             \
    }                                                                                                                        \
    extern "C" __global__ void conv3x3_weight_partial_##CI##_##CO(const float* __restrict__ x, const float* __restrict__ gy, \
                                                                  float* __restrict__ partial, int N, int H, int W,          \
                                                                  int rowsPerBlock) {                                        \
        conv3x3_weight_partial_body<CI, CO>(x, gy, partial, N, H, W, rowsPerBlock);                                          \
    }                                                                                                                        \
    extern "C" __global__ void conv3x3_weight_rows_##CI##_##CO(const float* __restrict__ x, const float* __restrict__ gy,    \
                                                               float* __restrict__ partial, int N, int H, int W,             \
                                                               int rowsPerBlock) {                                           \
        conv3x3_weight_rows_body<CI, CO>(x, gy, partial, N, H, W, rowsPerBlock);                                             \
    }

CONV3X3_ENTRIES(8, 8)
CONV3X3_ENTRIES(8, 16)
CONV3X3_ENTRIES(8, 32)
CONV3X3_ENTRIES(16, 8)
CONV3X3_ENTRIES(16, 16)
CONV3X3_ENTRIES(16, 32)
CONV3X3_ENTRIES(32, 8)
CONV3X3_ENTRIES(32, 16)
CONV3X3_ENTRIES(32, 32)
