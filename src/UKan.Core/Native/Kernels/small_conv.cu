// 3 x 3 convolutions with few channels (stride 1, zero padding 1, dilation 1, one group) over float32 channels-last
// maps: forward, the input gradient and the weight gradient, for U-KAN's full- and half-resolution stages (3 -> 16,
// 16 -> 16, 16 -> 32, 32 -> 32, 32 -> 16 channels in the paper's model; the large and tiny models' too). With so few channels cuDNN's implicit-GEMM
// kernels have a reduction of only 9 * Cin and 16 or 32 outputs per pixel, far too thin for their tiles: on an H200
// the 16 -> 16 convolution at 256 x 256 (batch 8) takes about 0.1 ms in each of its three kernels, and the weight
// gradient needs layout conversions besides, for a problem of 1.2 G multiply-adds and 34 MB per map.
//
// Notation: x (N, H, W, CIN) in memory (channels-last), y (N, H, W, COUT), the layer's weight w (COUT, 3, 3, CIN) in
// memory (its channels-last order, as the optimizer's flat buffer holds it), tap t = 3 kh + kw at offset
// (kh - 1, kw - 1). Forward: y[p, o] = b[o] + sum_t sum_i x[p + d(t), i] w[o, t, i] (x = 0 off the map).
// Input gradient: gx[q, i] = sum_t sum_o gy[q - d(t), o] w[o, t, i] = sum_t' sum_o gy[q + d(t'), o] w[o, 8 - t', i]:
// the forward of gy with the weight transposed (COUT inputs, CIN outputs) and its taps reversed, so one body serves
// both (FLIP). Weight gradient: gw[o, t, i] = sum_p gy[p, o] x[p + d(t), i].
//
// All in float32 on the CUDA cores (PyTorch's default lets cuDNN use TF32 here; these kernels round less): each thread
// keeps a register tile of outputs (forward: PX pixels x all COUT channels; weight gradient: CV input channels of one
// tap x all COUT), the weights sit in shared memory with the output channels of one (tap, input) consecutive and are
// read as 16-byte broadcasts (one load feeds 4 * PX multiply-adds), and x is read through the L1 cache, whose lines the
// neighbouring threads' windows share.

// Four floats moved as one 16-byte access (no CUDA header: NVRTC compiles this program alone).
struct __align__(16) conv_f4 { float x, y, z, w; };

// CV consecutive channels of one pixel (CV = 4: one 16-byte load; the launcher checks the alignment).
template <int CV>
__device__ __forceinline__ void conv_load(const float* __restrict__ p, float (&v)[CV]) {
    if constexpr (CV == 4) {
        conv_f4 q = *reinterpret_cast<const conv_f4*>(p);
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    } else {
#pragma unroll
        for (int c = 0; c < CV; c++) v[c] = p[c];
    }
}

// Pixels per thread in the forward: as many as keep the accumulators at 64 registers.
template <int COUT> struct ConvForwardTile { static constexpr int PX = COUT >= 32 ? 2 : (COUT >= 16 ? 4 : 8); };

// The convolution of x (CIN channels) into y (COUT channels) for the launcher's 1-D grid of 128-thread blocks, a thread
// per strip of PX consecutive pixels of one image row (N * H * ceil(W / PX) strips). FLIP: the input gradient (see the
// header): x is dL/dy, `weight` the layer's (CIN, 3, 3, COUT) weight, y is dL/dx. bias may be null.
template <int CIN, int COUT, bool FLIP>
__device__ __forceinline__ void conv3x3_body(const float* __restrict__ x, const float* __restrict__ weight, const float* __restrict__ bias,
                                            float* __restrict__ y, int N, int H, int W) {
    constexpr int CV = CIN % 4 == 0 ? 4 : 1;
    constexpr int PX = ConvForwardTile<COUT>::PX;
    // [tap][input][output]: the COUT weights of one (tap, input) pair are consecutive, read as 16-byte broadcasts
    // (declared as conv_f4 for the 16-byte alignment; COUT is a multiple of 4).
    __shared__ conv_f4 ws4[9 * CIN * COUT / 4];
    float* ws = reinterpret_cast<float*>(ws4);
    for (int e = threadIdx.x; e < 9 * CIN * COUT; e += blockDim.x) {
        if (!FLIP) {   // the layer's w[o, t, i], e = (o * 9 + t) * CIN + i
            int i = e % CIN, t = (e / CIN) % 9, o = e / (9 * CIN);
            ws[(t * CIN + i) * COUT + o] = weight[e];
        } else {       // the layer's w[i', t, o'] with i' < CIN (its outputs, our inputs), o' < COUT; tap reversed
            int o = e % COUT, t = (e / COUT) % 9, i = e / (9 * COUT);
            ws[((8 - t) * CIN + i) * COUT + o] = weight[e];
        }
    }
    __syncthreads();

    int strips = (W + PX - 1) / PX;
    long long s = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= (long long)N * H * strips) return;
    long long row = s / strips;                       // n * H + h
    int h = (int)(row % H), w0 = (int)(s - row * strips) * PX;

    float acc[PX][COUT];
#pragma unroll
    for (int o = 0; o < COUT; o++) {
        float b = bias ? bias[o] : 0.0f;
#pragma unroll
        for (int j = 0; j < PX; j++) acc[j][o] = b;
    }
    for (int kh = 0; kh < 3; kh++) {
        if (h + kh - 1 < 0 || h + kh - 1 >= H) continue;
        const float* src = x + (row + kh - 1) * W * CIN;   // the same image's row h + kh - 1
#pragma unroll 2
        for (int c0 = 0; c0 < CIN; c0 += CV) {
            // The PX + 2 pixels that the strip's three horizontal taps read, CV channels each.
            float win[PX + 2][CV];
#pragma unroll
            for (int j = 0; j < PX + 2; j++) {
                int ww = w0 + j - 1;
                if (ww >= 0 && ww < W) conv_load<CV>(src + (long long)ww * CIN + c0, win[j]);
                else {
#pragma unroll
                    for (int c = 0; c < CV; c++) win[j][c] = 0.0f;
                }
            }
#pragma unroll
            for (int kw = 0; kw < 3; kw++)
#pragma unroll
                for (int c = 0; c < CV; c++) {
                    const conv_f4* wv = reinterpret_cast<const conv_f4*>(ws + ((kh * 3 + kw) * CIN + c0 + c) * COUT);
#pragma unroll
                    for (int q = 0; q < COUT / 4; q++) {
                        conv_f4 w4 = wv[q];
#pragma unroll
                        for (int j = 0; j < PX; j++) {
                            float v = win[j + kw][c];
                            acc[j][4 * q] += v * w4.x;
                            acc[j][4 * q + 1] += v * w4.y;
                            acc[j][4 * q + 2] += v * w4.z;
                            acc[j][4 * q + 3] += v * w4.w;
                        }
                    }
                }
        }
    }
#pragma unroll
    for (int j = 0; j < PX; j++) {
        if (w0 + j >= W) break;
        conv_f4* dst = reinterpret_cast<conv_f4*>(y + (row * W + w0 + j) * COUT);
#pragma unroll
        for (int q = 0; q < COUT / 4; q++) dst[q] = conv_f4{acc[j][4 * q], acc[j][4 * q + 1], acc[j][4 * q + 2], acc[j][4 * q + 3]};
    }
}

// Input channels per thread in the weight gradient: accumulators CV * COUT, at most 64 registers.
template <int CIN, int COUT> struct ConvWeightTile {
    static constexpr int CV = CIN % 4 != 0 ? 1 : (COUT >= 32 ? 2 : 4);
    static constexpr int GROUP = 9 * CIN / CV;   // threads that share a pixel: one per (tap, CV inputs)
};

// Per-block partial weight gradients. The block's threads form P = blockDim.x / GROUP pixel groups of GROUP threads,
// thread (tap, i0) of a group accumulating gy[p, 0..COUT) x[p + d(tap), i0..i0+CV) over the pixels w = g, g + P, ... of
// each of the block's image rows [r0, r0 + rowsPerBlock); all threads of a group read the same gy (a broadcast). The
// groups' tiles are then summed in shared memory in group order and written as the block's row of `partial`
// (gridDim.x rows of 9 * CIN * COUT, the layer's weight order), merged by conv3x3_weight_finalize: no atomics, so the
// result does not depend on scheduling.
template <int CIN, int COUT>
__device__ __forceinline__ void conv3x3_weight_partial_body(const float* __restrict__ x, const float* __restrict__ gy, float* __restrict__ partial,
                                                            int N, int H, int W, int rowsPerBlock) {
    constexpr int CV = ConvWeightTile<CIN, COUT>::CV;
    constexpr int GROUP = ConvWeightTile<CIN, COUT>::GROUP;
    constexpr int K = 9 * CIN * COUT;
    __shared__ float sum[K];
    int groups = blockDim.x / GROUP, g = threadIdx.x / GROUP, r = threadIdx.x - g * GROUP;
    int tap = r / (CIN / CV), i0 = (r - tap * (CIN / CV)) * CV;
    int dh = tap / 3 - 1, dw = tap % 3 - 1;

    float acc[CV][COUT];
#pragma unroll
    for (int c = 0; c < CV; c++)
#pragma unroll
        for (int o = 0; o < COUT; o++) acc[c][o] = 0.0f;
    long long rows = (long long)N * H, r0 = (long long)blockIdx.x * rowsPerBlock;
    long long r1 = r0 + rowsPerBlock < rows ? r0 + rowsPerBlock : rows;
    for (long long row = r0; row < r1; row++) {
        int hh = (int)(row % H) + dh;
        if (hh < 0 || hh >= H) continue;
        const float* grow = gy + row * W * COUT;
        const float* xrow = x + (row + dh) * W * CIN;
#pragma unroll 2
        for (int w = g; w < W; w += groups) {
            int ww = w + dw;
            if (ww < 0 || ww >= W) continue;
            float xv[CV];
            conv_load<CV>(xrow + (long long)ww * CIN + i0, xv);
            const conv_f4* g4 = reinterpret_cast<const conv_f4*>(grow + (long long)w * COUT);
#pragma unroll
            for (int q = 0; q < COUT / 4; q++) {
                conv_f4 gv = g4[q];
#pragma unroll
                for (int c = 0; c < CV; c++) {
                    acc[c][4 * q] += gv.x * xv[c];
                    acc[c][4 * q + 1] += gv.y * xv[c];
                    acc[c][4 * q + 2] += gv.z * xv[c];
                    acc[c][4 * q + 3] += gv.w * xv[c];
                }
            }
        }
    }
    // The groups' tiles summed in group order (the launcher makes blockDim.x = groups * GROUP exactly).
    for (int step = 0; step < groups; step++) {
        if (g == step)
#pragma unroll
            for (int c = 0; c < CV; c++)
#pragma unroll
                for (int o = 0; o < COUT; o++) {
                    int e = (o * 9 + tap) * CIN + i0 + c;
                    sum[e] = step == 0 ? acc[c][o] : sum[e] + acc[c][o];
                }
        __syncthreads();
    }
    for (int e = threadIdx.x; e < K; e += blockDim.x) partial[(long long)blockIdx.x * K + e] = sum[e];
}

// gw[e] = sum over the blocks b of partial[b, e], in block order per slice: a (32, 8) block covers 32 weights, its
// threadIdx.y summing the blocks y, y + 8, ... and the 8 slices then added in order (deterministic).
extern "C" __global__ void conv3x3_weight_finalize(const float* __restrict__ partial, float* __restrict__ gw, int blocks, int K) {
    __shared__ float slice[8][32];
    int e = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (e < K)
        for (int b = threadIdx.y; b < blocks; b += 8) s += partial[(long long)b * K + e];
    slice[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && e < K) {
        float total = slice[0][threadIdx.x];
        for (int k = 1; k < 8; k++) total += slice[k][threadIdx.x];
        gw[e] = total;
    }
}

// The entries of one (CIN, COUT) layer shape: forward (with an optional bias), input gradient, per-block weight
// gradient. The launcher (Native/SmallConvKernels.cs) lists the same shapes.
#define CONV3X3_ENTRIES(CI, CO)                                                                                              \
    extern "C" __global__ void conv3x3_forward_##CI##_##CO(const float* __restrict__ x, const float* __restrict__ w,        \
                                                           const float* __restrict__ b, float* __restrict__ y, int N, int H,  \
                                                           int W) {                                                          \
        conv3x3_body<CI, CO, false>(x, w, b, y, N, H, W);                                                                    \
    }                                                                                                                        \
    extern "C" __global__ void conv3x3_weight_partial_##CI##_##CO(const float* __restrict__ x, const float* __restrict__ gy, \
                                                                  float* __restrict__ partial, int N, int H, int W,          \
                                                                  int rowsPerBlock) {                                        \
        conv3x3_weight_partial_body<CI, CO>(x, gy, partial, N, H, W, rowsPerBlock);                                          \
    }
// The input gradient of a (CI -> CO) layer: the flipped body with CO inputs and CI outputs (CI a multiple of 4).
#define CONV3X3_INPUT_GRAD(CI, CO)                                                                                           \
    extern "C" __global__ void conv3x3_input_grad_##CI##_##CO(const float* __restrict__ gy, const float* __restrict__ w,    \
                                                              float* __restrict__ gx, int N, int H, int W) {                 \
        conv3x3_body<CO, CI, true>(gy, w, nullptr, gx, N, H, W);                                                             \
    }

CONV3X3_ENTRIES(3, 16)
CONV3X3_ENTRIES(3, 32)
CONV3X3_ENTRIES(16, 16)
CONV3X3_ENTRIES(16, 32)
CONV3X3_ENTRIES(32, 16)
CONV3X3_ENTRIES(32, 32)
CONV3X3_ENTRIES(3, 4)
CONV3X3_ENTRIES(4, 4)
CONV3X3_ENTRIES(4, 8)
CONV3X3_ENTRIES(8, 8)
CONV3X3_ENTRIES(8, 4)
CONV3X3_INPUT_GRAD(4, 4)
CONV3X3_INPUT_GRAD(4, 8)
CONV3X3_INPUT_GRAD(8, 8)
CONV3X3_INPUT_GRAD(8, 4)
CONV3X3_INPUT_GRAD(16, 16)
CONV3X3_INPUT_GRAD(16, 32)
CONV3X3_INPUT_GRAD(32, 16)
CONV3X3_INPUT_GRAD(32, 32)
