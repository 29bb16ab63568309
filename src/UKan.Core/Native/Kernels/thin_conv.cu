// 3 x 3 convolutions (stride 1, zero padding 1, one group) whose input has 1 to 4 channels: the first layer of a U-Net,
// which sees the images (U-KAN's encoder1 takes 3 -> 16 at full resolution). Forward y[p, o] = b[o] + sum x[p + (kh - 1,
// kw - 1), i] w[o, kh, kw, i] and the weight gradient gw[o, kh, kw, i] = sum_p gy[p, o] x[p + (kh - 1, kw - 1), i]
// (x = 0 off the map); PyTorch needs no input gradient for the images, and cuDNN keeps it. For 3 input channels cuDNN
// ran both in poor kernels on an H200 (256 x 256, batch 8: 44 us forward with two layout conversions, and about 100 us
// in a generic float32 weight-gradient kernel, wgrad_alg0_engine) for maps it reads and writes in about 10 us. Here in
// float32 on the CUDA cores (exact to float rounding, under every precision setting).
//
// Layouts (channels-last, as our training keeps maps on CUDA): x (N, H, W, CIN), y and gy (N, H, W, COUT), the weight
// and its gradient (COUT, 3, 3, CIN). Block: 256 threads = COUT outputs x LANES pixel lanes; thread (o = t % COUT, lane
// = t / COUT) takes PER consecutive pixels of each chunk of THIN_CHUNK columns of an image row, with the three input
// rows' chunk (zero padded) in shared memory; its 3 x 3 window slides along the pixels in registers, one new column (3
// CIN values) read per pixel. A warp's window reads hit one address per lane of the warp (the threads of one lane read
// the same values: broadcasts), its y stores and gy loads are runs of COUT contiguous outputs.
// Forward: the thread's 9 CIN weights in registers, one output per pixel. Weight gradient: 9 CIN sums per thread over
// the pixels of the block's run of rows (gy loaded for a whole chunk at once), then added over the lanes in a fixed
// order into one row of partial sums per block, which partial_sums.cu's merge adds over the blocks: no atomics, the
// same bits every run.

#define THIN_CHUNK 128
#define THIN_THREADS 256

// Input rows h - 1 .. h + 1 of image row `row` (n H + h), columns c0 - 1 .. c0 + THIN_CHUNK, zero off the map, into the
// block's window (the chunk's pixels' windows read columns up to c0 + width). Callers synchronise around it.
template <int CIN>
__device__ __forceinline__ void thin_fill_window(float (&window)[3][THIN_CHUNK + 2][CIN], const float* __restrict__ x, long long row,
                                                 int h, int H, int W, int c0) {
    for (int e = threadIdx.x; e < 3 * (THIN_CHUNK + 2) * CIN; e += THIN_THREADS) {
        int i = e % CIN, c = e / CIN % (THIN_CHUNK + 2), r = e / CIN / (THIN_CHUNK + 2);
        int hh = h + r - 1, ww = c0 + c - 1;
        window[r][c][i] = hh >= 0 && hh < H && ww >= 0 && ww < W ? x[((row + r - 1) * W + ww) * CIN + i] : 0.0f;
    }
}

// The window's columns kw = 0, 1 of pixel px0 into col (the ring of three columns that thin_slide advances).
template <int CIN>
__device__ __forceinline__ void thin_first_columns(float (&col)[3][3][CIN], const float (&window)[3][THIN_CHUNK + 2][CIN], int px0) {
#pragma unroll
    for (int kw = 0; kw < 2; kw++)
#pragma unroll
        for (int kh = 0; kh < 3; kh++)
#pragma unroll
            for (int i = 0; i < CIN; i++) col[kw][kh][i] = window[kh][px0 + kw][i];
}

// Pixel px0 + j's new column (kw = 2) into the ring: afterwards its window's column kw is col[(j + kw) % 3].
template <int CIN>
__device__ __forceinline__ void thin_slide(float (&col)[3][3][CIN], const float (&window)[3][THIN_CHUNK + 2][CIN], int px0, int j) {
#pragma unroll
    for (int kh = 0; kh < 3; kh++)
#pragma unroll
        for (int i = 0; i < CIN; i++) col[(j + 2) % 3][kh][i] = window[kh][px0 + j + 2][i];
}

// The forward (bias may be null): blocks take (image row, chunk) items in turn.
template <int CIN, int COUT>
__device__ __forceinline__ void conv3x3_thin_forward_body(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
                                                          float* __restrict__ y, int N, int H, int W) {
    constexpr int LANES = THIN_THREADS / COUT, TAPS = 9 * CIN, PER = THIN_CHUNK / LANES;
    __shared__ float window[3][THIN_CHUNK + 2][CIN];
    int o = threadIdx.x % COUT, lane = threadIdx.x / COUT, px0 = lane * PER;
    float wr[TAPS];
#pragma unroll
    for (int k = 0; k < TAPS; k++) wr[k] = w[o * TAPS + k];
    float b = bias ? bias[o] : 0.0f;
    int chunks = (W + THIN_CHUNK - 1) / THIN_CHUNK;
    long long items = (long long)N * H * chunks;
    for (long long item = blockIdx.x; item < items; item += gridDim.x) {
        long long row = item / chunks;
        int h = (int)(row % H), c0 = (int)(item - row * chunks) * THIN_CHUNK, width = min(THIN_CHUNK, W - c0);
        __syncthreads();   // the previous item's window is no longer read
        thin_fill_window<CIN>(window, x, row, h, H, W, c0);
        __syncthreads();
        float col[3][3][CIN];
        thin_first_columns<CIN>(col, window, px0);
        float* out = y + (row * W + c0 + px0) * COUT + o;
#pragma unroll
        for (int j = 0; j < PER; j++) {
            thin_slide<CIN>(col, window, px0, j);
            float s = b;
#pragma unroll
            for (int kh = 0; kh < 3; kh++)
#pragma unroll
                for (int kw = 0; kw < 3; kw++)
#pragma unroll
                    for (int i = 0; i < CIN; i++) s += wr[(kh * 3 + kw) * CIN + i] * col[(j + kw) % 3][kh][i];
            if (px0 + j < width) out[(long long)j * COUT] = s;
        }
    }
}

template <int CIN, int COUT>
__device__ __forceinline__ void conv3x3_thin_weight_partial_body(const float* __restrict__ x, const float* __restrict__ gy,
                                                                 float* __restrict__ partial, int N, int H, int W, int rowsPerBlock) {
    constexpr int LANES = THIN_THREADS / COUT, TAPS = 9 * CIN, PER = THIN_CHUNK / LANES;   // PER: pixels per thread and chunk
    __shared__ float window[3][THIN_CHUNK + 2][CIN];
    __shared__ float sums[LANES][COUT * TAPS + 1];   // + 1: lanes' rows start in different banks
    int o = threadIdx.x % COUT, lane = threadIdx.x / COUT, px0 = lane * PER;   // + PER + 1 < THIN_CHUNK + 2: windows inside the tile
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
            const float* g = gy + (row * W + c0 + px0) * COUT + o;
#pragma unroll
            for (int j = 0; j < PER; j++) gv[j] = px0 + j < width ? g[(long long)j * COUT] : 0.0f;
            __syncthreads();   // the previous chunk's window is no longer read
            thin_fill_window<CIN>(window, x, row, h, H, W, c0);
            __syncthreads();
            float col[3][3][CIN];   // [column kw][row kh][channel]
            thin_first_columns<CIN>(col, window, px0);
#pragma unroll
            for (int j = 0; j < PER; j++) {
                thin_slide<CIN>(col, window, px0, j);
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

// The entries of one (input, output) channel count; Native/ThinConvKernels.cs lists the same shapes.
#define CONV3X3_THIN_ENTRY(CI, CO)                                                                                           \
    extern "C" __global__ void conv3x3_thin_forward_##CI##_##CO(const float* __restrict__ x, const float* __restrict__ w,    \
                                                                const float* __restrict__ b, float* __restrict__ y, int N,   \
                                                                int H, int W) {                                              \
        conv3x3_thin_forward_body<CI, CO>(x, w, b, y, N, H, W);                                                              \
    }                                                                                                                        \
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
