// Runs the relu(2 x 2 max-pooling) kernels (KERNEL_SOURCE: the fused program, maxpool_relu.cu among it) under
// cuda_emulation.h in the geometry of Native/MaxPoolKernels.cs, forward then backward, on raw float32 files.
// Usage: maxpool_relu_harness DIR PLANES H W CPIX CHUNKS BLOCK (plane_args; both kernels: a thread per output value).
// Reads x and g (PLANES x H/2 x W/2 x CPIX); writes y and gx. As the launcher, gx starts zero-filled only where H or W
// is odd; otherwise it starts as NaN (what an uninitialised tensor might hold), so that an input the backward leaves
// unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    auto a = plane_args(argc, argv);
    size_t n = (size_t)a.planes * a.H * a.W * a.cpix, m = (size_t)a.planes * (a.H / 2) * (a.W / 2) * a.cpix;
    auto x = load(a.dir, "x", n), g = load(a.dir, "g", m);
    std::vector<float> y(m), gx(n, a.H % 2 == 0 && a.W % 2 == 0 ? NAN : 0.0f);
    dim3 grid{a.planes * (a.H / 2), a.chunks, 1}, block{a.block, 1, 1};
    launch(grid, block, maxpool2x_relu, (const float*)x.data(), y.data(), a.H, a.W, a.cpix);
    launch(grid, block, maxpool2x_relu_backward, (const float*)x.data(), (const float*)g.data(), gx.data(), a.H, a.W, a.cpix);
    save(a.dir, "y", y); save(a.dir, "gx", gx);
    return 0;
}
