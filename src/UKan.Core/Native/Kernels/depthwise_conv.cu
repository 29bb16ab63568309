// Depthwise 3 x 3 convolution (groups = C, stride 1, padding 1 with zeros, dilation 1, no bias) over float32 maps
// stored channels-last (NHWC: element (n, h, w, c) at ((n*H + h)*W + w)*C + c), with the weight (C, 1, 3, 3) as C*9
// floats in (c, kh, kw) order, forward and both gradients:
//   y[n,h,w,c]   = sum_{kh,kw} x[n, h+kh-1, w+kw-1, c] * wt[c,kh,kw]                 (x outside the image = 0)
//   gx[n,h,w,c]  = sum_{kh,kw} gy[n, h-kh+1, w-kw+1, c] * wt[c,kh,kw]
//                = sum_{a,b}   gy[n, h+a-1, w+b-1, c] * wt[c, 2-a, 2-b]                (a = 2-kh, b = 2-kw)
//   gw[c,kh,kw]  = sum_{n,h,w} gy[n,h,w,c] * x[n, h+kh-1, w+kw-1, c]
// The input gradient is the forward stencil with the kernel flipped, so both run one body.
//
// Why our own: the problem is a few MB of memory traffic, but cuDNN's grouped weight-gradient kernel for it spends
// tens of microseconds; these kernels are written to read each map about once from memory.
//  - Channels on the fast lanes: consecutive threads take consecutive channels (V = 4 per thread, one 16-byte load,
//    where C % 4 == 0 and the addresses allow; else V = 1), then consecutive columns, so a warp reads one contiguous
//    run of a row (a pixel's C values are followed by the next pixel's).
//  - A thread's item is a column strip of DWCONV3X3_ROWS output rows at one (n, w): it streams the ROWS + 2 input
//    rows of columns w-1..w+1 once, and each input row feeds the up to three output rows whose window it is in, so a
//    value is loaded 3 times per strip instead of 9 times per output (the left and right neighbours' loads are the
//    adjacent threads' centre loads, served by L1).
//  - The weight gradient is deterministic, without float atomics: a 2-D grid (channel tiles x G groups of strips,
//    G chosen by the launcher, about two blocks per SM) where each thread accumulates its 9*V sums in registers over
//    its strips, the block adds its lanes in shared memory in a fixed order and writes one partial per channel and
//    tap; partial_sums.cu adds the G partials in a fixed order (in double). Same input, same bits, every run.
// Accumulation is in float (fmaf) in a fixed order of taps.

// Output rows per item (column strip); the launchers count items with the same number.
#define DWCONV3X3_ROWS 4

// V consecutive channel values loaded or stored as one access (16 bytes for V = 4).
template <int V>
struct alignas(sizeof(float) * V) dwconv3x3_pack {
    float v[V];
};

// The pack at p + offset where `inside` (the pixel lies in the image), else zeros: the convolution's zero padding
// without reading past the map.
template <int V>
__device__ __forceinline__ dwconv3x3_pack<V> dwconv3x3_load(const float* __restrict__ p, long long offset, bool inside) {
    dwconv3x3_pack<V> r;
    if (inside) r = *(const dwconv3x3_pack<V>*)(p + offset);
    else {
#pragma unroll
        for (int v = 0; v < V; v++) r.v[v] = 0.0f;
    }
    return r;
}

// An item (column strip) number to its image n, first output row h0 and column w: items run w fastest, then strips,
// then images, so consecutive items are neighbouring pixels of one row (contiguous memory). 32-bit divisions: the
// launchers keep item counts below 2^31.
__device__ __forceinline__ void dwconv3x3_item(unsigned item, int H, int W, int& n, int& h0, int& w) {
    unsigned strips = (unsigned)(H + DWCONV3X3_ROWS - 1) / DWCONV3X3_ROWS;
    unsigned rest = item / (unsigned)W;
    w = (int)(item - rest * (unsigned)W);
    unsigned n_ = rest / strips;
    h0 = (int)(rest - n_ * strips) * DWCONV3X3_ROWS;
    n = (int)n_;
}

// The walk both passes share: the ROWS + 2 input rows of a strip (image rows h0 - 1 .. h0 + ROWS) loaded once each at
// columns w - 1, w, w + 1 (zeros off the map; `base` is pixel (n, 0, w), channel c), each handed to use(kh, j, a, b, d)
// for every output row j of the strip whose window holds it as its row kh, in the order kh = 0, 1, 2 per output.
// Unrolled, j and kh are constants, so the caller's accumulators stay in registers.
template <int V, typename Use>
__device__ __forceinline__ void dwconv3x3_strip(const float* __restrict__ in, long long base, long long pitch, int C, int h0, int H,
                                                bool left, bool right, Use use) {
    const int R = DWCONV3X3_ROWS;
#pragma unroll
    for (int i = 0; i < R + 2; i++) {
        int r = h0 - 1 + i;
        bool row = r >= 0 && r < H;
        long long o = base + (long long)r * pitch;
        dwconv3x3_pack<V> a = dwconv3x3_load<V>(in, o - C, row && left);
        dwconv3x3_pack<V> b = dwconv3x3_load<V>(in, o, row);
        dwconv3x3_pack<V> d = dwconv3x3_load<V>(in, o + C, row && right);
#pragma unroll
        for (int kh = 0; kh < 3; kh++) {
            int j = i - kh;                    // the output row whose window has this input row as row kh
            if (j < 0 || j >= R) continue;     // resolved at compile time once unrolled
            use(kh, j, a, b, d);
        }
    }
}

// out = the stencil of `in` with the 3 x 3 taps wt[c] (FLIP: wt[c] turned by 180 degrees, the input gradient). One
// thread per (item, channel unit), units fastest: t = item * (C / V) + unit; 1-D grid of any block size (the launcher:
// blocks x block >= items x C / V). Per thread: the 9*V taps in registers, ROWS output accumulators; input row i of the
// strip (image row h0 - 1 + i) is row kh = i - j of output row j's window, added in the order kh = 0, 1, 2 and kw = 0,
// 1, 2 for every output, as the forward formula reads.
template <int V, bool FLIP>
__device__ __forceinline__ void dwconv3x3_stencil(const float* __restrict__ in, const float* __restrict__ wt, float* __restrict__ out,
                                                  int N, int H, int W, int C) {
    const int R = DWCONV3X3_ROWS;
    unsigned cunits = (unsigned)(C / V);
    unsigned strips = (unsigned)(H + R - 1) / R;
    unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (unsigned)N * strips * (unsigned)W * cunits) return;
    unsigned item = t / cunits;
    int c = (int)(t - item * cunits) * V;
    int n, h0, w;
    dwconv3x3_item(item, H, W, n, h0, w);

    float k[9][V];
#pragma unroll
    for (int j = 0; j < 9; j++)
#pragma unroll
        for (int v = 0; v < V; v++) k[j][v] = wt[(c + v) * 9 + (FLIP ? 8 - j : j)];

    float acc[R][V];
#pragma unroll
    for (int j = 0; j < R; j++)
#pragma unroll
        for (int v = 0; v < V; v++) acc[j][v] = 0.0f;

    long long pitch = (long long)W * C;
    long long base = (long long)n * H * pitch + (long long)w * C + c;   // pixel (n, 0, w), channel c
    dwconv3x3_strip<V>(in, base, pitch, C, h0, H, w > 0, w + 1 < W,
                       [&](int kh, int j, const dwconv3x3_pack<V>& a, const dwconv3x3_pack<V>& b, const dwconv3x3_pack<V>& d) {
#pragma unroll
                           for (int v = 0; v < V; v++) {
                               acc[j][v] = fmaf(a.v[v], k[kh * 3][v], acc[j][v]);
                               acc[j][v] = fmaf(b.v[v], k[kh * 3 + 1][v], acc[j][v]);
                               acc[j][v] = fmaf(d.v[v], k[kh * 3 + 2][v], acc[j][v]);
                           }
                       });
#pragma unroll
    for (int j = 0; j < R; j++) {
        if (h0 + j >= H) break;
        dwconv3x3_pack<V> p;
#pragma unroll
        for (int v = 0; v < V; v++) p.v[v] = acc[j][v];
        *(dwconv3x3_pack<V>*)(out + base + (long long)(h0 + j) * pitch) = p;
    }
}

// y = x conv wt. vec: 4 (C % 4 == 0 and x, y 16-byte aligned, the launcher checks) or 1.
extern "C" __global__ void dwconv3x3_forward(const float* __restrict__ x, const float* __restrict__ wt, float* __restrict__ y,
                                             int N, int H, int W, int C, int vec) {
    if (vec == 4) dwconv3x3_stencil<4, false>(x, wt, y, N, H, W, C);
    else dwconv3x3_stencil<1, false>(x, wt, y, N, H, W, C);
}

// gx = gy conv (wt turned by 180 degrees): the transpose of the forward for stride 1 and padding 1. vec as the forward.
extern "C" __global__ void dwconv3x3_backward_input(const float* __restrict__ gy, const float* __restrict__ wt, float* __restrict__ gx,
                                                    int N, int H, int W, int C, int vec) {
    if (vec == 4) dwconv3x3_stencil<4, true>(gy, wt, gx, N, H, W, C);
    else dwconv3x3_stencil<1, true>(gy, wt, gx, N, H, W, C);
}

// Most threads of a weight-gradient block (blockDim.x * blockDim.y): the size of its shared-memory lanes.
#define DWCONV3X3_WGRAD_THREADS 256

// Stage 1 of the weight gradient. Block (TX, TY), TX * TY <= 256: threadIdx.x picks channel unit blockIdx.x * TX + tx
// (the launcher makes TX the units per pixel when they fit, so the block's threads cover a contiguous run of pixels),
// threadIdx.y is one of TY lanes over the strips, which the gridDim.y groups of TY lanes take in turn (item = blockIdx.y
// * TY + ty, then + gridDim.y * TY). Each thread keeps sum gy * x for its 9 taps x V channels in registers over all its
// strips (a strip: its ROWS gy values, then the ROWS + 2 input rows streamed as in the forward), then the block adds
// its TY lanes in lane order through shared memory and writes partial[(blockIdx.y * C + c) * 9 + tap]: the layout of
// gw, one copy per group.
template <int V>
__device__ __forceinline__ void dwconv3x3_wgrad_partial_body(const float* __restrict__ x, const float* __restrict__ gy,
                                                             float* __restrict__ partial, int N, int H, int W, int C) {
    const int R = DWCONV3X3_ROWS;
    // Component-major ([tap * V + v][thread]), so that the stores of a warp and the lane sums' reads hit distinct banks.
    __shared__ float lanes[9 * V][DWCONV3X3_WGRAD_THREADS];
    int TX = (int)blockDim.x, TY = (int)blockDim.y, tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    int cunits = C / V, unit = (int)blockIdx.x * TX + tx;
    float acc[9][V];
#pragma unroll
    for (int j = 0; j < 9; j++)
#pragma unroll
        for (int v = 0; v < V; v++) acc[j][v] = 0.0f;

    if (unit < cunits) {
        int c = unit * V;
        unsigned strips = (unsigned)(H + R - 1) / R;
        unsigned items = (unsigned)N * strips * (unsigned)W;
        long long pitch = (long long)W * C;
        for (unsigned item = blockIdx.y * (unsigned)TY + (unsigned)ty; item < items; item += gridDim.y * (unsigned)TY) {
            int n, h0, w;
            dwconv3x3_item(item, H, W, n, h0, w);
            long long base = (long long)n * H * pitch + (long long)w * C + c;
            dwconv3x3_pack<V> g[R];
#pragma unroll
            for (int j = 0; j < R; j++) g[j] = dwconv3x3_load<V>(gy, base + (long long)(h0 + j) * pitch, h0 + j < H);
            dwconv3x3_strip<V>(x, base, pitch, C, h0, H, w > 0, w + 1 < W,
                               [&](int kh, int j, const dwconv3x3_pack<V>& a, const dwconv3x3_pack<V>& b, const dwconv3x3_pack<V>& d) {
#pragma unroll
                                   for (int v = 0; v < V; v++) {
                                       acc[kh * 3][v] = fmaf(g[j].v[v], a.v[v], acc[kh * 3][v]);
                                       acc[kh * 3 + 1][v] = fmaf(g[j].v[v], b.v[v], acc[kh * 3 + 1][v]);
                                       acc[kh * 3 + 2][v] = fmaf(g[j].v[v], d.v[v], acc[kh * 3 + 2][v]);
                                   }
                               });
        }
    }

    int tid = ty * TX + tx;
#pragma unroll
    for (int j = 0; j < 9; j++)
#pragma unroll
        for (int v = 0; v < V; v++) lanes[j * V + v][tid] = acc[j][v];
    __syncthreads();
    // The block's TX x 9V sums, spread over its threads; each adds the TY lanes of one (unit, tap, v) in lane order.
    for (int o = tid; o < TX * 9 * V; o += TX * TY) {
        int ox = o % TX, jv = o / TX;
        int ounit = (int)blockIdx.x * TX + ox;
        if (ounit >= cunits) continue;
        float sum = lanes[jv][ox];
        for (int l = 1; l < TY; l++) sum += lanes[jv][l * TX + ox];
        int tap = jv / V, v = jv - tap * V;
        partial[((long long)blockIdx.y * C + ounit * V + v) * 9 + tap] = sum;
    }
}

// Stage 1 entry: vec 4 (C % 4 == 0, x and gy 16-byte aligned) or 1.
extern "C" __global__ void dwconv3x3_backward_weight_partial(const float* __restrict__ x, const float* __restrict__ gy,
                                                             float* __restrict__ partial, int N, int H, int W, int C, int vec) {
    if (vec == 4) dwconv3x3_wgrad_partial_body<4>(x, gy, partial, N, H, W, C);
    else dwconv3x3_wgrad_partial_body<1>(x, gy, partial, N, H, W, C);
}

// Stage 2 is the shared merge of partial_sums.cu (sum_partial_rows) over the G groups' rows of 9C partials.
