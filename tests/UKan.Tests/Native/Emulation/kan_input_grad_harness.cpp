// Runs kan_product_input_grad_9 (KERNEL_SOURCE: the fused program, kan_product.cu among it) under cuda_emulation.h in
// the launch geometry of Native/KanProductKernels.cs (a block of 128 threads per 64 rows and 16 inputs).
// Usage: kan_input_grad_harness DIR M OUT IN T0 INV_H
// Reads dy (M x OUT), w (OUT x IN*9) and x (M x IN); writes gx (M x IN), which starts as NaN so that an output the
// kernel leaves unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"
#include <string>

int main(int argc, char** argv) {
    if (argc != 7) { fprintf(stderr, "usage: see the header\n"); return 2; }
    std::string dir = argv[1];
    int M = atoi(argv[2]), out = atoi(argv[3]), in = atoi(argv[4]);
    float t0 = (float)atof(argv[5]), inv_h = (float)atof(argv[6]);
    if (in % 16 != 0 || out % 8 != 0) { fprintf(stderr, "in must be a multiple of 16, out of 8\n"); return 2; }
    auto dy = load(dir, "dy", (size_t)M * out), w = load(dir, "w", (size_t)out * in * 9), x = load(dir, "x", (size_t)M * in);
    std::vector<float> gx((size_t)M * in, NAN);
    unsigned blocks = (unsigned)((M + 63) / 64 * (in / 16));
    launch(dim3{blocks, 1, 1}, dim3{128, 1, 1}, kan_product_input_grad_9, (const float*)dy.data(), out, (const float*)w.data(),
           (const float*)x.data(), gx.data(), M, in, t0, inv_h);
    save(dir, "gx", gx);
    return 0;
}
