// Runs kan_product_input_grad_9 or kan_product_input_grad_tf32x3_9 (KERNEL_SOURCE: the fused program, kan_product.cu
// and kan_product_tf32x3.cu among it) under cuda_emulation.h in the launch geometry of Native/KanProductKernels.cs (a
// block of 128 threads per 64 rows and 16 inputs; SHARED bytes of dynamic shared memory, as the C# side sizes them).
// Usage: kan_input_grad_harness DIR KIND SHARED M OUT IN T0 INV_H   (KIND: fp32 or tf32x3)
// Reads dy (M x OUT), w (OUT x IN*9) and x (M x IN); writes gx (M x IN), which starts as NaN so that an output the
// kernel leaves unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"
#include <string>

int main(int argc, char** argv) {
    if (argc != 9) { fprintf(stderr, "usage: see the header\n"); return 2; }
    std::string dir = argv[1], kind = argv[2];
    size_t shared = (size_t)atoll(argv[3]);
    int M = atoi(argv[4]), out = atoi(argv[5]), in = atoi(argv[6]);
    float t0 = (float)atof(argv[7]), inv_h = (float)atof(argv[8]);
    bool tc = kind == "tf32x3";
    if (in % 16 != 0 || out % (tc ? 16 : 8) != 0) { fprintf(stderr, "in must be a multiple of 16, out of 8 (16 for tf32x3)\n"); return 2; }
    auto dy = load(dir, "dy", (size_t)M * out), w = load(dir, "w", (size_t)out * in * 9), x = load(dir, "x", (size_t)M * in);
    std::vector<float> gx((size_t)M * in, NAN);
    unsigned blocks = (unsigned)((M + 63) / 64 * (in / 16));
    launch_shared(dim3{blocks, 1, 1}, dim3{128, 1, 1}, shared, tc ? kan_product_input_grad_tf32x3_9 : kan_product_input_grad_9,
                  (const float*)dy.data(), out, (const float*)w.data(), (const float*)x.data(), gx.data(), M, in, t0, inv_h);
    save(dir, "gx", gx);
    return 0;
}
