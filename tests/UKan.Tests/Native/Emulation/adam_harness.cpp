// Runs the Adam step kernel (KERNEL_SOURCE: the fused program, adam.cu among it) under cuda_emulation.h in the geometry
// of Native/AdamKernels.cs (a thread per element, blocks of BLOCK), on raw float32 files.
// Usage: adam_harness DIR N LR STEP ON_DEVICE BETA1 BETA2 EPS WEIGHT_DECAY DECOUPLED BLOCK
// Reads p, g, m, v (N each); writes p.out, m.out, v.out. ON_DEVICE 1 passes LR and STEP through pointers (as a step
// recorded in a CUDA graph), 0 as values.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc != 12) { fprintf(stderr, "usage: DIR N LR STEP ON_DEVICE BETA1 BETA2 EPS WEIGHT_DECAY DECOUPLED BLOCK\n"); return 2; }
    std::string dir = argv[1];
    long long n = atoll(argv[2]);
    float lr = (float)atof(argv[3]), step = (float)atof(argv[4]);
    bool onDevice = atoi(argv[5]) == 1;
    double beta1 = atof(argv[6]), beta2 = atof(argv[7]);
    float eps = (float)atof(argv[8]), wd = (float)atof(argv[9]);
    int decoupled = atoi(argv[10]);
    unsigned block = (unsigned)atoi(argv[11]);
    auto p = load(dir, "p", n), g = load(dir, "g", n), m = load(dir, "m", n), v = load(dir, "v", n);
    // As the launcher: the constants rounded from double.
    launch(dim3{(unsigned)((n + block - 1) / block), 1, 1}, dim3{block, 1, 1}, adam_step, p.data(), (const float*)g.data(), m.data(), v.data(),
           n, onDevice ? &lr : (const float*)nullptr, onDevice ? 0.0f : lr, onDevice ? &step : (const float*)nullptr, onDevice ? 0.0f : step,
           (float)log(beta1), (float)log(beta2), (float)(1 - beta1), (float)beta2, (float)(1 - beta2), eps, wd, decoupled);
    save(dir, "p.out", p); save(dir, "m.out", m); save(dir, "v.out", v);
    return 0;
}
