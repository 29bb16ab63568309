// relu(max_pool2d(x, kernel 2, stride 2)) for U-KAN's and UNeXt's encoders, forward and backward, for a dense float or
// bfloat16 tensor in NCHW or NHWC (channels-last). Floor mode, no padding: output (oh, ow) is the maximum of inputs
// (2oh..2oh+1, 2ow..2ow+1); with an odd H (W) the last input row (column) belongs to no window. A "row" below is one
// output row of one plane: planes are the images (NHWC, C values per pixel) or the image-channel pairs (NCHW, 1 value
// per pixel).
//
// PyTorch's max-pool writes the argmax of each window (int64) for its backward; these kernels keep nothing: the backward
// recomputes the argmax from the window's four inputs (16 bytes read per output instead of the 8-byte index, but no
// index written forward nor held between the passes). Each input lies in at most one window, so a thread per output
// writes its window's four gradients without atomics.
//
// Storage: the kernels are templates over the type T of x, y, dL/dy and dL/dx (storage.cu): float, and bfloat16 (the
// entries named _bf16) for bf16 autocast, where the convolutions hand over bf16 maps. Loads widen to float, which is
// exact, so the comparisons (ties, NaN) decide as on the stored values, and every value stored is one that was loaded
// (or 0): the bf16 results are exact too.

// The maximum of a window and its position k (0..3, row-major), as PyTorch's max-pool (CUDA and CPU) scans it: row by
// row, taking a value when it is greater than the maximum so far or NaN. Ties go to the first maximum; a NaN wins, the
// last NaN in scan order where there are several. (PyTorch starts from -inf with position 0: the same as starting from
// the first value, which -inf can only tie.) `v != v` is isnan without relying on a math header.
__device__ __forceinline__ int window_argmax(float v0, float v1, float v2, float v3, float& m) {
    int k = 0;
    m = v0;
    if (v1 > m || v1 != v1) { m = v1; k = 1; }
    if (v2 > m || v2 != v2) { m = v2; k = 2; }
    if (v3 > m || v3 != v3) { m = v3; k = 3; }
    return k;
}

// Thread coordinates shared by both kernels: grid.x = the output rows of all planes, grid.y x block >= OW x cpix (32-bit
// arithmetic, one 32-bit division by the row count per thread and one by cpix). Returns false for the threads past the
// row's end; sets the offset of the window's top-left input and of the output value.
__device__ __forceinline__ bool window_coordinates(int H, int W, int cpix, long long& in, long long& out) {
    int OH = H >> 1, OW = W >> 1;
    int t = blockIdx.y * blockDim.x + threadIdx.x;
    if (t >= OW * cpix) return false;
    unsigned p = blockIdx.x / (unsigned)OH;
    int oh = (int)(blockIdx.x - p * (unsigned)OH);
    int ow = t / cpix;
    int c = t - ow * cpix;
    in = (((long long)p * H + 2 * oh) * W + 2 * ow) * cpix + c;
    out = (long long)blockIdx.x * OW * cpix + t;
    return true;
}

// The window's maximum and its position from its four inputs, loaded as floats (see window_argmax).
template <typename T>
__device__ __forceinline__ int load_window_argmax(const T* __restrict__ x, long long in, long long pitch, int cpix, float& m) {
    return window_argmax(to_float(x[in]), to_float(x[in + cpix]), to_float(x[in + pitch]), to_float(x[in + pitch + cpix]), m);
}

// y = relu(max of the window): NaN stays NaN, as torch's relu.
template <typename T>
__device__ __forceinline__ void maxpool2x_relu_body(const T* __restrict__ x, T* __restrict__ y, int H, int W, int cpix) {
    long long in, out;
    if (!window_coordinates(H, W, cpix, in, out)) return;
    float m;
    load_window_argmax(x, in, (long long)W * cpix, cpix, m);
    y[out] = from_float<T>(m < 0.0f ? 0.0f : m);
}
extern "C" __global__ void maxpool2x_relu(const float* __restrict__ x, float* __restrict__ y, int H, int W, int cpix) {
    maxpool2x_relu_body(x, y, H, W, cpix);
}
extern "C" __global__ void maxpool2x_relu_bf16(const bf16_t* __restrict__ x, bf16_t* __restrict__ y, int H, int W, int cpix) {
    maxpool2x_relu_body(x, y, H, W, cpix);
}

// dL/dx from x and dL/dy: the gradient of each output goes to its window's argmax where relu's result passes it (torch's
// threshold_backward: zero where the result is <= 0, so a NaN result passes it), zeros to the window's other three
// inputs. Inputs in no window (odd H or W) are not written: the launcher zero-fills gx for those shapes.
template <typename T>
__device__ __forceinline__ void maxpool2x_relu_backward_body(const T* __restrict__ x, const T* __restrict__ g, T* __restrict__ gx,
                                                             int H, int W, int cpix) {
    long long in, out;
    if (!window_coordinates(H, W, cpix, in, out)) return;
    long long pitch = (long long)W * cpix;
    float m;
    int k = load_window_argmax(x, in, pitch, cpix, m);
    float grad = to_float(g[out]);   // loaded whatever the mask: a load behind a branch on x would wait for x's loads
    float pass = m <= 0.0f ? 0.0f : grad;
    gx[in] = from_float<T>(k == 0 ? pass : 0.0f);
    gx[in + cpix] = from_float<T>(k == 1 ? pass : 0.0f);
    gx[in + pitch] = from_float<T>(k == 2 ? pass : 0.0f);
    gx[in + pitch + cpix] = from_float<T>(k == 3 ? pass : 0.0f);
}
extern "C" __global__ void maxpool2x_relu_backward(const float* __restrict__ x, const float* __restrict__ g,
                                                   float* __restrict__ gx, int H, int W, int cpix) {
    maxpool2x_relu_backward_body(x, g, gx, H, W, cpix);
}
extern "C" __global__ void maxpool2x_relu_backward_bf16(const bf16_t* __restrict__ x, const bf16_t* __restrict__ g,
                                                        bf16_t* __restrict__ gx, int H, int W, int cpix) {
    maxpool2x_relu_backward_body(x, g, gx, H, W, cpix);
}
