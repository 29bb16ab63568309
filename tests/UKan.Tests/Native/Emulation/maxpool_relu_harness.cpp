// Runs the relu(2 x 2 max-pooling) kernels (KERNEL_SOURCE: the fused program, maxpool_relu.cu among it) under
// cuda_emulation.h in the geometry of Native/MaxPoolKernels.cs, forward then backward, on raw float32 files.
// Usage: maxpool_relu_harness DIR PLANES H W CPIX CHUNKS BLOCK [bf16] (plane_args; both kernels: a thread per output
// value). Reads x and g (PLANES x H/2 x W/2 x CPIX); writes y and gx. As the launcher, gx starts zero-filled only where
// H or W is odd; otherwise it starts as NaN (what an uninitialised tensor might hold), so that an input the backward
// leaves unwritten shows. With bf16, x and g are stored as bfloat16 (rounded from the files' floats), the _bf16 entries
// run, and y and gx are written as the floats their bf16 values are.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

template <typename T>
void run(const PlaneArgs& a, void (*forward)(const T*, T*, int, int, int), void (*backward)(const T*, const T*, T*, int, int, int)) {
    size_t n = (size_t)a.planes * a.H * a.W * a.cpix, m = (size_t)a.planes * (a.H / 2) * (a.W / 2) * a.cpix;
    auto x = stored_as<T>(load(a.dir, "x", n)), g = stored_as<T>(load(a.dir, "g", m));
    std::vector<T> y(m), gx(n, from_float<T>(a.H % 2 == 0 && a.W % 2 == 0 ? NAN : 0.0f));
    dim3 grid{a.planes * (a.H / 2), a.chunks, 1}, block{a.block, 1, 1};
    launch(grid, block, forward, (const T*)x.data(), y.data(), a.H, a.W, a.cpix);
    launch(grid, block, backward, (const T*)x.data(), (const T*)g.data(), gx.data(), a.H, a.W, a.cpix);
    save(a.dir, "y", as_floats(y)); save(a.dir, "gx", as_floats(gx));
}

int main(int argc, char** argv) {
    auto a = plane_args(argc, argv);
    if (a.bf16) run(a, maxpool2x_relu_bf16, maxpool2x_relu_backward_bf16);
    else run(a, maxpool2x_relu, maxpool2x_relu_backward);
    return 0;
}
