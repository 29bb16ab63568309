// Runs the relu(2 x 2 max-pooling) kernels (KERNEL_SOURCE: the fused program, maxpool_relu.cu among it) under
// cuda_emulation.h in the geometry of Native/MaxPoolKernels.cs, forward then backward, on raw float32 files.
// Usage: maxpool_relu_harness DIR PLANES H W CPIX CHUNKS BLOCK (both kernels: a thread per output value)
// PLANES x H x W x CPIX values in memory order (an image per plane with CPIX = C in channels-last, an image's channel
// per plane with CPIX = 1 in NCHW). Reads x and g (PLANES x H/2 x W/2 x CPIX); writes y and gx. As the launcher, gx
// starts zero-filled only where H or W is odd; otherwise it starts as NaN (what an uninitialised tensor might hold), so
// that an input the backward leaves unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc != 8) { fprintf(stderr, "usage: DIR PLANES H W CPIX CHUNKS BLOCK\n"); return 2; }
    std::string dir = argv[1];
    unsigned planes = (unsigned)atoi(argv[2]);
    int H = atoi(argv[3]), W = atoi(argv[4]), cpix = atoi(argv[5]);
    unsigned chunks = (unsigned)atoi(argv[6]), block = (unsigned)atoi(argv[7]);
    size_t n = (size_t)planes * H * W * cpix, m = (size_t)planes * (H / 2) * (W / 2) * cpix;
    auto x = load(dir, "x", n), g = load(dir, "g", m);
    std::vector<float> y(m), gx(n, H % 2 == 0 && W % 2 == 0 ? NAN : 0.0f);
    dim3 grid{planes * (H / 2), chunks, 1};
    launch(grid, dim3{block, 1, 1}, maxpool2x_relu, (const float*)x.data(), y.data(), H, W, cpix);
    launch(grid, dim3{block, 1, 1}, maxpool2x_relu_backward, (const float*)x.data(), (const float*)g.data(), gx.data(), H, W, cpix);
    save(dir, "y", y); save(dir, "gx", gx);
    return 0;
}
