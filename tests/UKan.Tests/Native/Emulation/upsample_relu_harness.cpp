// Runs the relu(x2 bilinear upsampling) kernels (KERNEL_SOURCE: the fused program, upsample_relu.cu among it) under
// cuda_emulation.h in the geometry of Native/UpsampleKernels.cs, forward then backward, on raw float32 files.
// Usage: upsample_relu_harness DIR PLANES H W CPIX CHUNKS BLOCK (both kernels: a thread per input value)
// PLANES x H x W x CPIX values in memory order (an image per plane with CPIX = C in channels-last, an image's channel
// per plane with CPIX = 1 in NCHW). Reads x (PLANES*H*W*CPIX) and g (4 times as many); writes y and gx.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc != 8) { fprintf(stderr, "usage: DIR PLANES H W CPIX CHUNKS BLOCK\n"); return 2; }
    std::string dir = argv[1];
    unsigned planes = (unsigned)atoi(argv[2]);
    int H = atoi(argv[3]), W = atoi(argv[4]), cpix = atoi(argv[5]);
    unsigned chunks = (unsigned)atoi(argv[6]), block = (unsigned)atoi(argv[7]);
    size_t n = (size_t)planes * H * W * cpix;
    auto x = load(dir, "x", n), g = load(dir, "g", 4 * n);
    std::vector<float> y(4 * n), gx(n);
    launch(dim3{planes * H, chunks, 1}, dim3{block, 1, 1}, upsample2x_relu, (const float*)x.data(), y.data(), H, W, cpix);
    launch(dim3{planes * H, chunks, 1}, dim3{block, 1, 1}, upsample2x_relu_backward, (const float*)x.data(), (const float*)g.data(),
           gx.data(), H, W, cpix);
    save(dir, "y", y); save(dir, "gx", gx);
    return 0;
}
