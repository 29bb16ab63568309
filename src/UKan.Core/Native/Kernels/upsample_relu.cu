// relu(x upsampled x2, bilinear, align_corners = false) for U-KAN's and UNeXt's decoders, forward and backward, for a
// dense float or bfloat16 tensor in NCHW or NHWC (channels-last). Taps as PyTorch's upsample_bilinear2d with scale
// factor 2: the source coordinate of output o is max(0, (o + 0.5) / 2 - 0.5); it reads rows i0 = floor(src) and
// i0 + (i0 < n - 1), weighted 1 - l and l with l = src - i0. A "row" below is one output (or input) row of one plane:
// planes are the images (NHWC, C values per pixel) or the image-channel pairs (NCHW, 1 value per pixel).
//
// Both kernels run a thread per input value. Every output that input (i, j) takes part in, and every output of the
// 2 x 2 block it is the "centre" of, reads only inputs of the 3 x 3 neighbourhood (i-1..i+1, j-1..j+1): output 2i
// reads rows i-1 and i, output 2i+1 rows i and i+1 (clamped at the borders as above). So each thread loads that
// neighbourhood once into registers and computes the up-to 4 x 4 values it needs from it, instead of four loads and
// two tap computations per value (the first version: a thread per output, 64 loads per input in the backward).
//
// Storage: the kernels are templates over the type T of x, y, dL/dy and dL/dx (storage.cu): float, and bfloat16 (the
// entries named _bf16) for bf16 autocast, where the convolutions hand over bf16 maps. Loads widen to float (exact), all
// arithmetic is the float32 entries' own, in the same order, and each stored value is rounded once (to nearest even).
// The backward's ReLU mask is the sign of the float value before that rounding, as the float32 formulation has it.
__device__ __forceinline__ void bilinear_tap(int o, int n, int& i0, int& step, float& l) {
    float src = fmaxf(0.5f * ((float)o + 0.5f) - 0.5f, 0.0f);
    i0 = (int)src;
    step = i0 < n - 1 ? 1 : 0;
    l = src - (float)i0;
}

// The taps of output o along one axis relative to input i's neighbourhood: the slots (0, 1, 2 for i-1, i, i+1) of the
// two inputs it reads, the second one's weight l, and the weight with which it reads input i itself.
struct NeighbourTap {
    int a, b;
    float l, own;
};
__device__ __forceinline__ NeighbourTap neighbour_tap(int o, int i, int n) {
    int i0, step; float l;
    bilinear_tap(o, n, i0, step, l);
    NeighbourTap t;
    t.a = i0 - i + 1;
    t.b = i0 + step - i + 1;
    t.l = l;
    t.own = (t.a == 1 ? 1.0f - l : 0.0f) + (t.b == 1 ? l : 0.0f);
    return t;
}

// One of three register values by a run-time slot, as selects (an indexed register array would go to local memory).
__device__ __forceinline__ float pick3(int slot, float v0, float v1, float v2) {
    return slot == 0 ? v0 : (slot == 1 ? v1 : v2);
}

// The interpolated value from its four inputs (rows a, b; columns a, b), one expression for forward and backward so
// that the backward's ReLU mask is the sign of the very value the forward produced.
__device__ __forceinline__ float bilinear(float aa, float ab, float ba, float bb, float lh, float lw) {
    return (1.0f - lh) * ((1.0f - lw) * aa + lw * ab) + lh * ((1.0f - lw) * ba + lw * bb);
}

// Thread coordinates shared by both kernels: grid.x = the input rows of all planes, grid.y x block >= W x cpix. Returns
// false for the threads past the row's end; sets the plane, the input row and column, and the value's offset c.
__device__ __forceinline__ bool input_coordinates(int H, int W, int cpix, long long& plane, int& ih, int& iw, int& c) {
    int t = blockIdx.y * blockDim.x + threadIdx.x;
    if (t >= W * cpix) return false;
    unsigned p = blockIdx.x / (unsigned)H;
    plane = p;
    ih = (int)(blockIdx.x - p * (unsigned)H);
    iw = t / cpix;
    c = t - iw * cpix;
    return true;
}

// The 3 x 3 neighbourhood of input (ih, iw) of one value; slots past the border hold a copy of the border value (no
// tap ever reads them: the taps of the outputs near the border stay inside the image).
template <typename T>
__device__ __forceinline__ void load_neighbourhood(const T* __restrict__ plane, int ih, int iw, int H, int W, int cpix,
                                                   float nb[3][3]) {
#pragma unroll
    for (int r = 0; r < 3; ++r) {
        const T* line = plane + (long long)min(max(ih - 1 + r, 0), H - 1) * W * cpix;
#pragma unroll
        for (int s = 0; s < 3; ++s) nb[r][s] = to_float(line[(long long)min(max(iw - 1 + s, 0), W - 1) * cpix]);
    }
}

// The two neighbourhood rows an output row reads (slots th.a and th.b), each as its three columns.
__device__ __forceinline__ void pick_rows(const float nb[3][3], NeighbourTap th, float ra[3], float rb[3]) {
#pragma unroll
    for (int s = 0; s < 3; ++s) {
        ra[s] = pick3(th.a, nb[0][s], nb[1][s], nb[2][s]);
        rb[s] = pick3(th.b, nb[0][s], nb[1][s], nb[2][s]);
    }
}

__device__ __forceinline__ float value_at(const float ra[3], const float rb[3], NeighbourTap th, NeighbourTap tw) {
    return bilinear(pick3(tw.a, ra[0], ra[1], ra[2]), pick3(tw.b, ra[0], ra[1], ra[2]),
                    pick3(tw.a, rb[0], rb[1], rb[2]), pick3(tw.b, rb[0], rb[1], rb[2]), th.l, tw.l);
}

// The taps of outputs 2i-1, 2i, 2i+1, 2i+2 along one axis for input i (those outside the image get weight 0).
struct FootprintTaps {
    NeighbourTap t[4];
};
__device__ __forceinline__ FootprintTaps footprint_taps(int i, int n) {
    FootprintTaps f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        int o = 2 * i - 1 + k;
        f.t[k] = neighbour_tap(o, i, n);
        if (o < 0 || o >= 2 * n) f.t[k].own = 0.0f;
    }
    return f;
}
// The same taps for an input with a neighbour on both sides (1 <= i <= n - 2), where bilinear_tap gives the same four
// every time: outputs 2i-1 and 2i read inputs i-1 and i with l = 1/4 and 3/4, outputs 2i+1 and 2i+2 inputs i and i+1
// with l = 1/4 and 3/4 (all exact in float). As constants, the slot choices and weights fold away at compile time.
__device__ __forceinline__ FootprintTaps interior_taps() {
    FootprintTaps f;
    f.t[0] = NeighbourTap{0, 1, 0.25f, 0.25f};
    f.t[1] = NeighbourTap{0, 1, 0.75f, 0.75f};
    f.t[2] = NeighbourTap{1, 2, 0.25f, 0.75f};
    f.t[3] = NeighbourTap{1, 2, 0.75f, 0.25f};
    return f;
}

// relu(up(x)) (+ skip where skip is not null) at the 2 x 2 outputs (2ih + u, 2iw + v), the taps k = 1, 2 of the
// footprint along each axis. The skip is added in float and the sum rounded once.
template <typename T>
__device__ __forceinline__ void write_block(const float nb[3][3], FootprintTaps fh, FootprintTaps fw, const T* __restrict__ skip,
                                            T* __restrict__ y, long long out, long long pitch, int cpix) {
#pragma unroll
    for (int u = 0; u < 2; ++u) {
        float ra[3], rb[3];
        pick_rows(nb, fh.t[1 + u], ra, rb);
#pragma unroll
        for (int v = 0; v < 2; ++v) {
            long long at = out + u * pitch + v * cpix;
            float value = value_at(ra, rb, fh.t[1 + u], fw.t[1 + v]);
            value = value < 0.0f ? 0.0f : value;                                         // NaN stays NaN, as torch's relu
            y[at] = from_float<T>(skip ? value + to_float(skip[at]) : value);
        }
    }
}

// y = relu(up(x)) + skip: each thread writes the 2 x 2 outputs (2ih + u, 2iw + v) of its input value. skip (may be
// null) is the decoder's skip connection, laid out as y; adding it here saves the separate add's pass over the map.
template <typename T>
__device__ __forceinline__ void upsample2x_relu_body(const T* __restrict__ x, const T* __restrict__ skip, T* __restrict__ y, int H,
                                                     int W, int cpix) {
    long long plane; int ih, iw, c;
    if (!input_coordinates(H, W, cpix, plane, ih, iw, c)) return;
    float nb[3][3];
    load_neighbourhood(x + plane * H * (long long)W * cpix + c, ih, iw, H, W, cpix, nb);
    long long pitch = 2LL * W * cpix, out = (plane * 2 * H + 2 * ih) * pitch + 2LL * iw * cpix + c;
    if (ih >= 1 && ih <= H - 2 && iw >= 1 && iw <= W - 2)
        write_block(nb, interior_taps(), interior_taps(), skip, y, out, pitch, cpix);
    else
        write_block(nb, footprint_taps(ih, H), footprint_taps(iw, W), skip, y, out, pitch, cpix);
}
extern "C" __global__ void upsample2x_relu(const float* __restrict__ x, const float* __restrict__ skip, float* __restrict__ y, int H,
                                           int W, int cpix) {
    upsample2x_relu_body(x, skip, y, H, W, cpix);
}
extern "C" __global__ void upsample2x_relu_bf16(const bf16_t* __restrict__ x, const bf16_t* __restrict__ skip, bf16_t* __restrict__ y,
                                                int H, int W, int cpix) {
    upsample2x_relu_body(x, skip, y, H, W, cpix);
}

// Σ over the footprint of own weight × dL/dy where relu's result is positive; rows in increasing order, a row's
// columns summed first. line points at dL/dy of output (2ih - 1, 2iw - 1) of this value; pitch is an output row.
template <typename T>
__device__ __forceinline__ float gather(const float nb[3][3], FootprintTaps fh, FootprintTaps fw, const T* __restrict__ line,
                                        long long pitch, int cpix) {
    float acc = 0.0f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        if (fh.t[k].own == 0.0f) continue;
        float ra[3], rb[3];
        pick_rows(nb, fh.t[k], ra, rb);
        float sum = 0.0f;
        // The gradient is loaded whatever relu's mask says (only outputs outside the image, weight 0, are skipped):
        // a load behind a branch on the recomputed value waits for it, and the 16 loads would run one after another.
#pragma unroll
        for (int m = 0; m < 4; ++m) {
            if (fw.t[m].own == 0.0f) continue;
            float grad = to_float(line[k * pitch + m * cpix]);
            if (value_at(ra, rb, fh.t[k], fw.t[m]) > 0.0f) sum += fw.t[m].own * grad;
        }
        acc += fh.t[k].own * sum;
    }
    return acc;
}

// dL/dx from x and dL/dy: each thread gathers the (at most 4 x 4) outputs 2ih-1..2ih+2, 2iw-1..2iw+2 that read its
// input, each gradient passed where relu's result is positive (torch's threshold_backward), that result recomputed
// from the neighbourhood instead of kept from the forward (a quarter of the memory); no atomics, so the result does
// not depend on scheduling.
template <typename T>
__device__ __forceinline__ void upsample2x_relu_backward_body(const T* __restrict__ x, const T* __restrict__ g, T* __restrict__ gx,
                                                              int H, int W, int cpix) {
    long long plane; int ih, iw, c;
    if (!input_coordinates(H, W, cpix, plane, ih, iw, c)) return;
    float nb[3][3];
    load_neighbourhood(x + plane * H * (long long)W * cpix + c, ih, iw, H, W, cpix, nb);
    long long pitch = 2LL * W * cpix;
    // Output (2ih - 1, 2iw - 1), outside the image at the top or left border: only reached with weight 0 there.
    const T* line = g + (plane * 2 * H + 2 * ih - 1) * pitch + (2LL * iw - 1) * cpix + c;
    float acc = ih >= 1 && ih <= H - 2 && iw >= 1 && iw <= W - 2
        ? gather(nb, interior_taps(), interior_taps(), line, pitch, cpix)
        : gather(nb, footprint_taps(ih, H), footprint_taps(iw, W), line, pitch, cpix);
    gx[(plane * H + ih) * (long long)W * cpix + (long long)iw * cpix + c] = from_float<T>(acc);
}
// At most 64 registers a thread (four blocks of 256 a multiprocessor; the compiler took 86, two blocks).
extern "C" __global__ void __launch_bounds__(256, 4) upsample2x_relu_backward(const float* __restrict__ x, const float* __restrict__ g,
                                                    float* __restrict__ gx, int H, int W, int cpix) {
    upsample2x_relu_backward_body(x, g, gx, H, W, cpix);
}
extern "C" __global__ void __launch_bounds__(256, 4) upsample2x_relu_backward_bf16(const bf16_t* __restrict__ x, const bf16_t* __restrict__ g,
                                                         bf16_t* __restrict__ gx, int H, int W, int cpix) {
    upsample2x_relu_backward_body(x, g, gx, H, W, cpix);
}

// ---------------------------------------------------------------------------------------------------------------------
// The decoder's last upsampling with the segmentation head: z = conv1x1(relu(up(x)); w, b), U-KAN's
// `self.final(F.relu(F.interpolate(self.decoder5(out), ...)))`, for a float32 channels-last x of C = 4, 8, ..., 64
// channels and K classes (the entries _K, K = 1..4). The C-channel map at full resolution, the largest of the
// network, is never stored: forward reads x and writes the K-channel z; backward reads x and dL/dz and writes dL/dx
// and per-block partial sums of dL/dw and dL/db. Separately (the upsampling node, then PyTorch's 1 x 1 convolution)
// that map is written, read by the head, its gradient written by the head's backward and read by the upsampling's.
//
// TP threads per input pixel (the kernels' tp), lane `part` taking CPL consecutive channels, forward 4 (one 16-byte load
// per neighbour), backward 2 (8 bytes; with four a lane the backward needed more registers than fit four blocks a
// multiprocessor, and spilled): the TP = C / CPL lanes of a pixel are consecutive, so a warp's loads cover 32 / TP whole
// pixels. Each lane computes its channels'
// relu(up(x)) at the outputs it needs from the 3 x 3 neighbourhood, rows first: t[s] = (1 - lh) x[row a][s] + lh x[row
// b][s] for the neighbourhood's three columns, then (1 - lw) t[col a] + lw t[col b] (one formula for forward and backward,
// so that the backward's ReLU mask is the sign of the value the forward used). The head's sum over channels is the
// lane's four products, then a fixed xor-shuffle tree over the TP lanes. z is NCHW (N, K, 2H, 2W). Interior pixels take
// the constant taps (interior_taps): each kernel body is instantiated for them and for the border's computed taps.

// Two or four floats moved as one 8- or 16-byte access (no CUDA header: NVRTC compiles the program alone).
struct __align__(8) head_f2 { float x, y; };
struct __align__(16) head_f4 { float x, y, z, w; };

__device__ __forceinline__ void head_pixel(long long p, int H, int W, long long& n, int& ih, int& iw) {
    n = p / ((long long)H * W);
    long long r = p - n * H * W;
    ih = (int)(r / W);
    iw = (int)(r - (long long)ih * W);
}

// The 3 x 3 neighbourhood of input (ih, iw) for the CPL (2 or 4) channels at c (channels-last image `image` of C
// channels), borders clamped as load_neighbourhood does.
template <int CPL>
__device__ __forceinline__ void load_lane_neighbourhood(const float* __restrict__ image, int ih, int iw, int H, int W, int C, int c,
                                                        float nb[CPL][3][3]) {
#pragma unroll
    for (int r = 0; r < 3; ++r) {
        const float* line = image + (long long)min(max(ih - 1 + r, 0), H - 1) * W * C + c;
#pragma unroll
        for (int s = 0; s < 3; ++s) {
            const float* at = line + (long long)min(max(iw - 1 + s, 0), W - 1) * C;
            if (CPL == 4) {
                head_f4 v = *reinterpret_cast<const head_f4*>(at);
                nb[0][r][s] = v.x; nb[1][r][s] = v.y; nb[2 % CPL][r][s] = v.z; nb[3 % CPL][r][s] = v.w;
            } else {
                head_f2 v = *reinterpret_cast<const head_f2*>(at);
                nb[0][r][s] = v.x; nb[1][r][s] = v.y;
            }
        }
    }
}

// The row interpolation of an output row with taps th: its three columns of the neighbourhood.
__device__ __forceinline__ void head_row(const float nb[3][3], NeighbourTap th, float t[3]) {
#pragma unroll
    for (int s = 0; s < 3; ++s)
        t[s] = (1.0f - th.l) * pick3(th.a, nb[0][s], nb[1][s], nb[2][s]) + th.l * pick3(th.b, nb[0][s], nb[1][s], nb[2][s]);
}

// up(x) at the output with column taps tw, from its row interpolation t.
__device__ __forceinline__ float head_value(const float t[3], NeighbourTap tw) {
    return (1.0f - tw.l) * pick3(tw.a, t[0], t[1], t[2]) + tw.l * pick3(tw.b, t[0], t[1], t[2]);
}

// The sum of v over the TP consecutive lanes of a pixel (a fixed tree: the same bits on every lane).
__device__ __forceinline__ float sum_over_pixel_lanes(float v, int tp) {
    for (int m = 1; m < tp; m <<= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}

// Threads per block of both kernels (the launcher's, Native/UpsampleKernels.cs): the backward's shared sums hold 8 warps.
#define UPSAMPLE_HEAD_BLOCK 256

// acc[k][u][v] += Σ over the lane's four channels of w[k, c] relu(up(x))_c at output (2ih + u, 2iw + v).
template <int K>
__device__ __forceinline__ void head_forward_pixel(const float nb[4][3][3], FootprintTaps fh, FootprintTaps fw, const float wk[K][4],
                                                   float acc[K][2][2]) {
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int u = 0; u < 2; ++u) {
            float t[3];
            head_row(nb[j], fh.t[1 + u], t);
#pragma unroll
            for (int v = 0; v < 2; ++v) {
                float value = head_value(t, fw.t[1 + v]);
                float r = value < 0.0f ? 0.0f : value;
#pragma unroll
                for (int k = 0; k < K; ++k) acc[k][u][v] = fmaf(wk[k][j], r, acc[k][u][v]);
            }
        }
}

template <int K>
__device__ __forceinline__ void upsample2x_relu_conv1x1_body(const float* __restrict__ x, const float* __restrict__ weight,
                                                             const float* __restrict__ bias, float* __restrict__ z, int N,
                                                             int H, int W, int tp) {
    const int C = 4 * tp;
    long long pixels = (long long)N * H * W, lanes = (long long)gridDim.x * blockDim.x;
    long long rounds = (pixels * tp + lanes - 1) / lanes;
    int part = (int)(threadIdx.x % tp);
    float wk[K][4];
#pragma unroll
    for (int k = 0; k < K; ++k)
#pragma unroll
        for (int j = 0; j < 4; ++j) wk[k][j] = weight[k * C + 4 * part + j];
    // Every lane runs the same number of rounds (the shuffles need the whole warp); lanes past the end compute nothing.
    for (long long round = 0; round < rounds; ++round) {
        long long p = ((long long)blockIdx.x * blockDim.x + threadIdx.x + round * lanes) / tp;
        bool live = p < pixels;
        float acc[K][2][2];
#pragma unroll
        for (int k = 0; k < K; ++k) acc[k][0][0] = acc[k][0][1] = acc[k][1][0] = acc[k][1][1] = 0.0f;
        long long n = 0; int ih = 0, iw = 0;
        if (live) {
            head_pixel(p, H, W, n, ih, iw);
            float nb[4][3][3];
            load_lane_neighbourhood<4>(x + n * H * (long long)W * C, ih, iw, H, W, C, 4 * part, nb);
            if (ih >= 1 && ih <= H - 2 && iw >= 1 && iw <= W - 2)
                head_forward_pixel<K>(nb, interior_taps(), interior_taps(), wk, acc);
            else
                head_forward_pixel<K>(nb, footprint_taps(ih, H), footprint_taps(iw, W), wk, acc);
        }
#pragma unroll
        for (int k = 0; k < K; ++k)
#pragma unroll
            for (int u = 0; u < 2; ++u)
#pragma unroll
                for (int v = 0; v < 2; ++v) acc[k][u][v] = sum_over_pixel_lanes(acc[k][u][v], tp);
        if (!live || part != 0) continue;
        long long W2 = 2LL * W;
#pragma unroll
        for (int k = 0; k < K; ++k) {
            float b = bias ? bias[k] : 0.0f;
            float* out = z + ((n * K + k) * 2 * H + 2 * ih) * W2 + 2 * iw;
#pragma unroll
            for (int u = 0; u < 2; ++u) {
                out[u * W2] = acc[k][u][0] + b;
                out[u * W2 + 1] = acc[k][u][1] + b;
            }
        }
    }
}

// Backward. For channel c of input (ih, iw): dL/dx = Σ_k w[k, c] Σ over the (at most 4 x 4) outputs o that read it of
// [relu(up(x))_c(o) > 0] · own_h · own_w · dL/dz[k, o] (own_h, own_w: the tap weights with which o reads this input;
// ReLU's mask recomputed from the neighbourhood, as the upsampling node's backward does). The weighted gradients
// own_h own_w dL/dz are the same for the lane's two channels (constants times dL/dz inside the image). The head's gradients
// are sums over every output o: dL/dw[k, c] = Σ_o relu(up(x))_c(o) dL/dz[k, o] and dL/db[k] = Σ_o dL/dz[k, o]; each
// output is counted by the input whose 2 x 2 block it is (taps 1, 2 along both axes).
template <int K>
__device__ __forceinline__ void head_backward_pixel(const float nb[2][3][3], FootprintTaps fh, FootprintTaps fw, const float wk[K][2],
                                                    const float g[K][4][4], float gx[2], float dw[K][2]) {
#pragma unroll
    for (int j = 0; j < 2; ++j) {
        float sum[K];
#pragma unroll
        for (int k = 0; k < K; ++k) sum[k] = 0.0f;
#pragma unroll
        for (int a = 0; a < 4; ++a) {
            if (fh.t[a].own == 0.0f && (a == 0 || a == 3)) continue;   // taps 1, 2 (the own block) always run for dL/dw
            float t[3];
            head_row(nb[j], fh.t[a], t);
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                float value = head_value(t, fw.t[b]);
                bool on = value > 0.0f;
#pragma unroll
                for (int k = 0; k < K; ++k) sum[k] += on ? fh.t[a].own * fw.t[b].own * g[k][a][b] : 0.0f;
                if (a >= 1 && a <= 2 && b >= 1 && b <= 2 && on)
#pragma unroll
                    for (int k = 0; k < K; ++k) dw[k][j] = fmaf(value, g[k][a][b], dw[k][j]);
            }
        }
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < K; ++k) acc = fmaf(wk[k][j], sum[k], acc);
        gx[j] = acc;
    }
}

// A lane adds its pixels' dL/dw and dL/db terms in registers (grid-stride), then the block adds its lanes in a fixed
// order (xor shuffles over the lanes of equal channels, then the warps in turn) and writes row blockIdx.x of `partial`:
// K C values of dL/dw in the weight's order, then K of dL/db. partial_sums.cu's merge adds the rows (no atomics: the
// same bits every run).
template <int K>
__device__ __forceinline__ void upsample2x_relu_conv1x1_backward_body(const float* __restrict__ x, const float* __restrict__ weight,
                                                                      const float* __restrict__ gz, float* __restrict__ gx,
                                                                      float* __restrict__ partial, int N, int H, int W, int tp) {
    const int C = 2 * tp;
    long long pixels = (long long)N * H * W, lanes = (long long)gridDim.x * blockDim.x;
    int part = (int)(threadIdx.x % tp);
    float dw[K][2], db[K];
#pragma unroll
    for (int k = 0; k < K; ++k) { dw[k][0] = dw[k][1] = 0.0f; db[k] = 0.0f; }
    float wk[K][2];
#pragma unroll
    for (int k = 0; k < K; ++k)
#pragma unroll
        for (int j = 0; j < 2; ++j) wk[k][j] = weight[k * C + 2 * part + j];
    for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t / tp < pixels; t += lanes) {
        long long p = t / tp, n; int ih, iw;
        head_pixel(p, H, W, n, ih, iw);
        float nb[2][3][3];
        load_lane_neighbourhood<2>(x + n * H * (long long)W * C, ih, iw, H, W, C, 2 * part, nb);
        // dL/dz of the footprint (outputs 2ih - 1 + a, 2iw - 1 + b); those outside the image have weight 0 and stay 0.
        long long W2 = 2LL * W;
        float g[K][4][4];
#pragma unroll
        for (int k = 0; k < K; ++k) {
            const float* plane = gz + (n * K + k) * 2 * H * W2;
#pragma unroll
            for (int a = 0; a < 4; ++a)
#pragma unroll
                for (int b = 0; b < 4; ++b) {
                    int oh = 2 * ih - 1 + a, ow = 2 * iw - 1 + b;
                    g[k][a][b] = oh >= 0 && oh < 2 * H && ow >= 0 && ow < 2 * W ? plane[oh * W2 + ow] : 0.0f;
                }
        }
        if (part == 0)
#pragma unroll
            for (int k = 0; k < K; ++k) db[k] += (g[k][1][1] + g[k][1][2]) + (g[k][2][1] + g[k][2][2]);
        head_f2 out;
        float* outs = &out.x;
        if (ih >= 1 && ih <= H - 2 && iw >= 1 && iw <= W - 2)
            head_backward_pixel<K>(nb, interior_taps(), interior_taps(), wk, g, outs, dw);
        else
            head_backward_pixel<K>(nb, footprint_taps(ih, H), footprint_taps(iw, W), wk, g, outs, dw);
        *reinterpret_cast<head_f2*>(gx + p * C + 2 * part) = out;
    }
    // The block's sums: lanes of equal `part` (every tp-th lane of a warp) by xor shuffles over the pixel bits, then
    // the warps in order through shared memory.
    __shared__ float warp_sums[UPSAMPLE_HEAD_BLOCK / 32][K * 2 * 32 + K];
    int warp = (int)(threadIdx.x >> 5), lane = (int)(threadIdx.x & 31);
#pragma unroll
    for (int k = 0; k < K; ++k) {
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            float v = dw[k][j];
            for (int m = tp; m < 32; m <<= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
            if (lane < tp) warp_sums[warp][k * C + 2 * lane + j] = v;
        }
        float v = db[k];
        for (int m = tp; m < 32; m <<= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
        if (lane == 0) warp_sums[warp][K * C + k] = v;
    }
    __syncthreads();
    int warps = (int)(blockDim.x >> 5);
    for (int e = (int)threadIdx.x; e < K * C + K; e += (int)blockDim.x) {
        float s = 0.0f;
        for (int w = 0; w < warps; ++w) s += warp_sums[w][e];
        partial[(long long)blockIdx.x * (K * C + K) + e] = s;
    }
}

// The entries of K classes. Launch bounds: at most 64 registers a thread (four blocks a multiprocessor, the launcher's
// grid: one wave), where the compiler otherwise took 72 forward and 164 backward (with four channels a lane) and left
// most of the multiprocessor's warps empty.
#define UPSAMPLE_HEAD_ENTRIES(K)                                                                                    \
    extern "C" __global__ void __launch_bounds__(UPSAMPLE_HEAD_BLOCK, 4)                                            \
        upsample2x_relu_conv1x1_##K(const float* __restrict__ x, const float* __restrict__ weight,                  \
                                    const float* __restrict__ bias, float* __restrict__ z, int N, int H, int W, int tp) { \
        upsample2x_relu_conv1x1_body<K>(x, weight, bias, z, N, H, W, tp);                                           \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(UPSAMPLE_HEAD_BLOCK, 4)                                            \
        upsample2x_relu_conv1x1_backward_##K(const float* __restrict__ x, const float* __restrict__ weight,         \
                                             const float* __restrict__ gz, float* __restrict__ gx,                  \
                                             float* __restrict__ partial, int N, int H, int W, int tp) {            \
        upsample2x_relu_conv1x1_backward_body<K>(x, weight, gz, gx, partial, N, H, W, tp);                          \
    }

UPSAMPLE_HEAD_ENTRIES(1)
UPSAMPLE_HEAD_ENTRIES(2)
UPSAMPLE_HEAD_ENTRIES(3)
UPSAMPLE_HEAD_ENTRIES(4)
