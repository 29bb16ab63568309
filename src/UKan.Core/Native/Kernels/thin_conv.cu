// The weight gradient of a 3 x 3 convolution (stride 1, zero padding 1, one group) whose input has 1 to 4 channels: the
// first layer of a U-Net, which sees the images (U-KAN's encoder1 takes 3 -> 16 at full resolution). PyTorch needs no
// input gradient there, but the weight gradient reduces over every pixel: gw[o, kh, kw, i] = sum_p gy[p, o]
// x[p + (kh - 1, kw - 1), i] (x = 0 off the map). For 3 input channels cuDNN runs it in a generic float32 kernel
// (wgrad_alg0_engine) that took 0.13 ms of an H200's 256 x 256, batch 8 step, for maps it reads in about 10 us. Here in
// float32 on the CUDA cores (the sums exact to float rounding, under every precision setting).
//
// Layouts (channels-last, as our training keeps maps on CUDA): x (N, H, W, CIN), gy (N, H, W, COUT), the weight
// gradient (COUT, 3, 3, CIN). Block: 256 threads = COUT outputs x LANES pixel lanes; thread (o = t % COUT, lane =
// t / COUT) adds, for its PER consecutive pixels of each chunk of THIN_CHUNK columns of each image row of the block's
// run of rows, gy[p, o] (loaded for the whole chunk at once) times the 9 CIN inputs of p's window, read from a
// shared-memory copy of the three input rows (zero padded) one new column per pixel, into 9 CIN registers. A warp's gy
// loads are runs of COUT contiguous outputs, and its window reads hit one address per lane of the warp (the threads of
// one lane read the same values: broadcasts). The lanes' sums are then added in a fixed order into one row
// of partial sums per block, which partial_sums.cu's merge adds over the blocks: no atomics, the same bits every run.

#define THIN_CHUNK 128
#define THIN_THREADS 256

template <int CIN, int COUT>
__device__ __forceinline__ void conv3x3_thin_weight_partial_body(const float* __restrict__ x, const float* __restrict__ gy,
                                                                 float* __restrict__ partial, int N, int H, int W, int rowsPerBlock) {
    constexpr int LANES = THIN_THREADS / COUT, TAPS = 9 * CIN, PER = THIN_CHUNK / LANES;   // PER: pixels per thread and chunk
    __shared__ float window[3][THIN_CHUNK + 2][CIN];
    __shared__ float sums[LANES][COUT * TAPS + 1];   // + 1: lanes' rows start in different banks
    int o = threadIdx.x % COUT, lane = threadIdx.x / COUT;
    float acc[TAPS];
#pragma unroll
    for (int k = 0; k < TAPS; k++) acc[k] = 0.0f;

    long long rows = (long long)N * H, first = (long long)blockIdx.x * rowsPerBlock;
    long long last = min(rows, first + rowsPerBlock);
    for (long long row = first; row < last; row++) {
        int h = (int)(row % H);
        for (int c0 = 0; c0 < W; c0 += THIN_CHUNK) {
            int width = min(THIN_CHUNK, W - c0);
            // This thread's dL/dy values of the chunk, all loads issued at once (0 past the map's edge, which then adds
            // nothing): a loop that loaded each before its products waited out one memory latency per pixel.
            float gv[PER];
            const float* g = gy + (row * W + c0 + lane * PER) * COUT + o;
#pragma unroll
            for (int j = 0; j < PER; j++) gv[j] = lane * PER + j < width ? g[(long long)j * COUT] : 0.0f;
            __syncthreads();   // the previous chunk's window is no longer read
            // Input rows h - 1 .. h + 1, columns c0 - 1 .. c0 + THIN_CHUNK, zero off the map (the windows of this chunk's
            // pixels read columns up to c0 + width).
            for (int e = threadIdx.x; e < 3 * (THIN_CHUNK + 2) * CIN; e += THIN_THREADS) {
                int i = e % CIN, c = e / CIN % (THIN_CHUNK + 2), r = e / CIN / (THIN_CHUNK + 2);
                int hh = h + r - 1, ww = c0 + c - 1;
                window[r][c][i] = hh >= 0 && hh < H && ww >= 0 && ww < W ? x[((row + r - 1) * W + ww) * CIN + i] : 0.0f;
            }
            __syncthreads();
            // The lane's PER consecutive pixels, the window sliding along in registers: each pixel reads one new
            // column (3 CIN values) of the tile, not all 9 CIN of its window (shared memory's bandwidth, not the
            // multiply-adds, bounded the kernel when every pixel read its whole window).
            int px0 = lane * PER;   // + PER + 1 < THIN_CHUNK + 2: every window lies inside the tile
            float col[3][3][CIN];   // [column kw][row kh][channel]
#pragma unroll
            for (int kw = 0; kw < 2; kw++)
#pragma unroll
                for (int kh = 0; kh < 3; kh++)
#pragma unroll
                    for (int i = 0; i < CIN; i++) col[kw][kh][i] = window[kh][px0 + kw][i];
#pragma unroll
            for (int j = 0; j < PER; j++) {
#pragma unroll
                for (int kh = 0; kh < 3; kh++)
#pragma unroll
                    for (int i = 0; i < CIN; i++) col[(j + 2) % 3][kh][i] = window[kh][px0 + j + 2][i];
#pragma unroll
                for (int kw = 0; kw < 3; kw++)
#pragma unroll
                    for (int kh = 0; kh < 3; kh++)
#pragma unroll
                        for (int i = 0; i < CIN; i++) acc[(kh * 3 + kw) * CIN + i] += gv[j] * col[(j + kw) % 3][kh][i];
            }
        }
    }
    // The lanes' sums in a fixed order: this block's row of partials, laid out as the weight (o, kh, kw, i).
#pragma unroll
    for (int k = 0; k < TAPS; k++) sums[lane][o * TAPS + k] = acc[k];
    __syncthreads();
    for (int e = threadIdx.x; e < COUT * TAPS; e += THIN_THREADS) {
        float s = 0.0f;
        for (int l = 0; l < LANES; l++) s += sums[l][e];
        partial[(long long)blockIdx.x * COUT * TAPS + e] = s;
    }
}

// One entry per (input, output) channel count; Native/ThinConvKernels.cs lists the same shapes.
#define CONV3X3_THIN_ENTRY(CI, CO)                                                                                           \
    extern "C" __global__ void conv3x3_thin_weight_partial_##CI##_##CO(const float* __restrict__ x, const float* __restrict__ gy, \
                                                                       float* __restrict__ partial, int N, int H, int W,     \
                                                                       int rowsPerBlock) {                                   \
        conv3x3_thin_weight_partial_body<CI, CO>(x, gy, partial, N, H, W, rowsPerBlock);                                     \
    }

CONV3X3_THIN_ENTRY(1, 8)
CONV3X3_THIN_ENTRY(1, 16)
CONV3X3_THIN_ENTRY(1, 32)
CONV3X3_THIN_ENTRY(2, 8)
CONV3X3_THIN_ENTRY(2, 16)
CONV3X3_THIN_ENTRY(2, 32)
CONV3X3_THIN_ENTRY(3, 8)
CONV3X3_THIN_ENTRY(3, 16)
CONV3X3_THIN_ENTRY(3, 32)
CONV3X3_THIN_ENTRY(4, 8)
CONV3X3_THIN_ENTRY(4, 16)
CONV3X3_THIN_ENTRY(4, 32)
