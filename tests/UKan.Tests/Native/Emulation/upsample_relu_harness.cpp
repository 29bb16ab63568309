// Runs the relu(x2 bilinear upsampling) kernels (KERNEL_SOURCE: the fused program, upsample_relu.cu among it) under
// cuda_emulation.h in the geometry of Native/UpsampleKernels.cs, forward then backward, on raw float32 files.
// Usage: upsample_relu_harness DIR PLANES H W CPIX CHUNKS BLOCK (plane_args; both kernels: a thread per input value).
// Reads x (PLANES*H*W*CPIX) and g (4 times as many); writes y and gx.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    auto a = plane_args(argc, argv);
    size_t n = (size_t)a.planes * a.H * a.W * a.cpix;
    auto x = load(a.dir, "x", n), g = load(a.dir, "g", 4 * n);
    std::vector<float> y(4 * n), gx(n);
    dim3 grid{a.planes * a.H, a.chunks, 1}, block{a.block, 1, 1};
    launch(grid, block, upsample2x_relu, (const float*)x.data(), y.data(), a.H, a.W, a.cpix);
    launch(grid, block, upsample2x_relu_backward, (const float*)x.data(), (const float*)g.data(), gx.data(), a.H, a.W, a.cpix);
    save(a.dir, "y", y); save(a.dir, "gx", gx);
    return 0;
}
