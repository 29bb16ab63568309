// Runs the relu(x2 bilinear upsampling) kernels (KERNEL_SOURCE: the fused program, upsample_relu.cu among it) under
// cuda_emulation.h in the geometry of Native/UpsampleKernels.cs, forward then backward, on raw float32 files.
// Usage: upsample_relu_harness DIR PLANES H W CPIX CHUNKS BLOCK [bf16] (plane_args; both kernels: a thread per input
// value). Reads x (PLANES*H*W*CPIX), g (4 times as many) and, if there is one, the skip s (as many as g, added to the
// forward's output); writes y and gx. With bf16, x and g are stored as bfloat16
// (rounded from the files' floats), the _bf16 entries run, and y and gx are written as the floats their bf16 values are.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

template <typename T>
void run(const PlaneArgs& a, void (*forward)(const T*, const T*, T*, int, int, int), void (*backward)(const T*, const T*, T*, int, int, int)) {
    size_t n = (size_t)a.planes * a.H * a.W * a.cpix;
    auto x = stored_as<T>(load(a.dir, "x", n)), g = stored_as<T>(load(a.dir, "g", 4 * n));
    auto skip = stored_as<T>(load(a.dir, "s", 4 * n, true));
    std::vector<T> y(4 * n), gx(n);
    dim3 grid{a.planes * a.H, a.chunks, 1}, block{a.block, 1, 1};
    launch(grid, block, forward, (const T*)x.data(), skip.empty() ? (const T*)nullptr : (const T*)skip.data(), y.data(), a.H, a.W, a.cpix);
    launch(grid, block, backward, (const T*)x.data(), (const T*)g.data(), gx.data(), a.H, a.W, a.cpix);
    save(a.dir, "y", as_floats(y)); save(a.dir, "gx", as_floats(gx));
}

int main(int argc, char** argv) {
    auto a = plane_args(argc, argv);
    if (a.bf16) run(a, upsample2x_relu_bf16, upsample2x_relu_backward_bf16);
    else run(a, upsample2x_relu, upsample2x_relu_backward);
    return 0;
}
