// Runs the LayerNorm kernels (KERNEL_SOURCE: the fused program, layer_norm.cu among it) under cuda_emulation.h in the
// geometry of Native/LayerNormKernels.cs, forward then backward, on raw float32 files of a folder.
// Usage: layer_norm_harness DIR ROWS C EPS THREADS FORWARD_BLOCKS BACKWARD_BLOCKS SHARED_BYTES [bf16]
// Reads x, g (ROWS x C), w, b (C) and, if present, the input bias ib (C); writes y, mean, rstd, dx, dw, db (and dib with
// ib). With bf16, x is stored as bfloat16 (rounded from the file's floats) and the _bf16 entries run; dx is written back
// as the floats its bf16 values are.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc != 9 && !(argc == 10 && std::string(argv[9]) == "bf16")) {
        fprintf(stderr, "usage: DIR ROWS C EPS THREADS FORWARD_BLOCKS BACKWARD_BLOCKS SHARED_BYTES [bf16]\n");
        return 2;
    }
    bool bf16 = argc == 10;
    std::string dir = argv[1];
    long long rows = atoll(argv[2]);
    int C = atoi(argv[3]);
    float eps = (float)atof(argv[4]);
    unsigned threads = (unsigned)atoi(argv[5]), fblocks = (unsigned)atoi(argv[6]), bblocks = (unsigned)atoi(argv[7]);
    size_t shared = (size_t)atoll(argv[8]), n = (size_t)rows * C;
    auto x = load(dir, "x", n), g = load(dir, "g", n), w = load(dir, "w", C), b = load(dir, "b", C), ib = load(dir, "ib", C, true);
    const float* ibp = ib.empty() ? nullptr : ib.data();
    std::vector<float> y(n), mean(rows), rstd(rows), dx(n), dw(C), db(C), dib(C), partial((ibp ? 3 : 2) * (size_t)bblocks * C);
    auto x16 = to_bf16(x);
    std::vector<bf16_t> dx16(n);
    dim3 block{threads, 1, 1};
    dim3 fgrid{fblocks, 1, 1}, bgrid{bblocks, 1, 1};
    const float *wp = w.data(), *bp = b.data(), *gp = g.data();
    if (bf16 && ibp) {
        launch(fgrid, block, layer_norm_forward_in_bias_bf16, (const bf16_t*)x16.data(), y.data(), wp, bp, ibp, mean.data(), rstd.data(), rows, C, eps);
        launch_shared(bgrid, block, shared, layer_norm_backward_in_bias_bf16, (const bf16_t*)x16.data(), gp, (const float*)mean.data(),
                      (const float*)rstd.data(), wp, ibp, dx16.data(), partial.data(), rows, C);
    } else if (bf16) {
        launch(fgrid, block, layer_norm_forward_bf16, (const bf16_t*)x16.data(), y.data(), wp, bp, mean.data(), rstd.data(), rows, C, eps);
        launch_shared(bgrid, block, shared, layer_norm_backward_bf16, (const bf16_t*)x16.data(), gp, (const float*)mean.data(),
                      (const float*)rstd.data(), wp, dx16.data(), partial.data(), rows, C);
    } else if (ibp) {
        launch(fgrid, block, layer_norm_forward_in_bias, (const float*)x.data(), y.data(), wp, bp, ibp, mean.data(), rstd.data(), rows, C, eps);
        launch_shared(bgrid, block, shared, layer_norm_backward_in_bias, (const float*)x.data(), gp, (const float*)mean.data(),
                      (const float*)rstd.data(), wp, ibp, dx.data(), partial.data(), rows, C);
    } else {
        launch(fgrid, block, layer_norm_forward, (const float*)x.data(), y.data(), wp, bp, mean.data(), rstd.data(), rows, C, eps);
        launch_shared(bgrid, block, shared, layer_norm_backward, (const float*)x.data(), gp, (const float*)mean.data(),
                      (const float*)rstd.data(), wp, dx.data(), partial.data(), rows, C);
    }
    if (bf16) dx = from_bf16(dx16);
    launch(dim3{(unsigned)((C + 31) / 32), 1, 1}, dim3{32, 8, 1}, layer_norm_backward_params, (const float*)partial.data(),
           (int)bblocks, C, dw.data(), db.data(), ibp ? dib.data() : nullptr);
    save(dir, "y", y); save(dir, "mean", mean); save(dir, "rstd", rstd);
    save(dir, "dx", dx); save(dir, "dw", dw); save(dir, "db", db);
    if (ibp) save(dir, "dib", dib);
    return 0;
}
