// relu(x upsampled x2, bilinear, align_corners = false) for U-KAN's and UNeXt's decoders, forward and backward, for a
// dense float tensor in NCHW or NHWC (channels-last). Taps as PyTorch's upsample_bilinear2d with scale factor 2: the
// source coordinate of output o is max(0, (o + 0.5) / 2 - 0.5); it reads rows i0 = floor(src) and i0 + (i0 < n - 1),
// weighted 1 - l and l with l = src - i0. A "row" below is one output (or input) row of one plane: planes are the
// images (NHWC, C values per pixel) or the image-channel pairs (NCHW, 1 value per pixel).
__device__ __forceinline__ void bilinear_tap(int o, int n, int& i0, int& step, float& l) {
    float src = fmaxf(0.5f * ((float)o + 0.5f) - 0.5f, 0.0f);
    i0 = (int)src;
    step = i0 < n - 1 ? 1 : 0;
    l = src - (float)i0;
}
// up(x) at output (oh, ow) of one value of a pixel; plane points at that value's (0, 0) input. Forward and backward
// both call it, so the backward's ReLU mask is the sign of the very value the forward produced.
__device__ __forceinline__ float upsample2x_at(const float* __restrict__ plane, int oh, int ow, int H, int W, int cpix) {
    int h0, hs, w0, ws; float lh, lw;
    bilinear_tap(oh, H, h0, hs, lh);
    bilinear_tap(ow, W, w0, ws, lw);
    const float* r0 = plane + (long long)h0 * W * cpix;
    const float* r1 = r0 + (long long)hs * W * cpix;
    int a = w0 * cpix, b = (w0 + ws) * cpix;
    return (1.0f - lh) * ((1.0f - lw) * r0[a] + lw * r0[b]) + lh * ((1.0f - lw) * r1[a] + lw * r1[b]);
}
// y = relu(up(x)): one thread per output value; grid.x = output rows (planes x 2H), grid.y x block = 2W x cpix.
extern "C" __global__ void upsample2x_relu(const float* __restrict__ x, float* __restrict__ y, int H, int W, int cpix) {
    int OW = 2 * W, inner = OW * cpix;
    int t = blockIdx.y * blockDim.x + threadIdx.x;
    if (t >= inner) return;
    long long row = blockIdx.x;
    long long plane = row / (2 * H);
    int oh = (int)(row - plane * 2 * H), ow = t / cpix, c = t - ow * cpix;
    float v = upsample2x_at(x + plane * H * (long long)W * cpix + c, oh, ow, H, W, cpix);
    y[row * inner + t] = v < 0.0f ? 0.0f : v;   // NaN stays NaN, as torch's relu
}
// The weight with which output o reads input i along one axis (both taps may be i at the last row).
__device__ __forceinline__ float tap_weight(int o, int i, int n) {
    int i0, step; float l;
    bilinear_tap(o, n, i0, step, l);
    return (i0 == i ? 1.0f - l : 0.0f) + (i0 + step == i ? l : 0.0f);
}
// dL/dx from x and dL/dy: one thread per input value gathers the (at most 4 x 4) outputs that read it, each gradient
// passed where relu's result is positive (torch's threshold_backward), that result recomputed from x instead of
// kept from the forward (a quarter of the memory); no atomics, so the result does not depend on scheduling.
extern "C" __global__ void upsample2x_relu_backward(const float* __restrict__ x, const float* __restrict__ g,
                                                    float* __restrict__ gx, int H, int W, int cpix) {
    int OH = 2 * H, OW = 2 * W, inner = W * cpix;
    int t = blockIdx.y * blockDim.x + threadIdx.x;
    if (t >= inner) return;
    long long row = blockIdx.x;
    long long plane = row / H;
    int ih = (int)(row - plane * H), iw = t / cpix, c = t - iw * cpix;
    const float* source = x + plane * H * (long long)W * cpix + c;
    float acc = 0.0f;
    for (int oh = max(2 * ih - 1, 0); oh <= min(2 * ih + 2, OH - 1); ++oh) {
        float wh = tap_weight(oh, ih, H);
        if (wh == 0.0f) continue;
        long long base = (plane * OH + oh) * (long long)OW * cpix + c;
        float line = 0.0f;
        for (int ow = max(2 * iw - 1, 0); ow <= min(2 * iw + 2, OW - 1); ++ow) {
            float ww = tap_weight(ow, iw, W);
            if (ww != 0.0f && upsample2x_at(source, oh, ow, H, W, cpix) > 0.0f) line += ww * g[base + (long long)ow * cpix];
        }
        acc += wh * line;
    }
    gx[row * inner + t] = acc;
}
