// Runs the batch norm + ReLU kernels (KERNEL_SOURCE: the fused program, batch_norm_relu.cu among it) under cuda_emulation.h in the order and
// geometry of Native/BatchNormReluKernels.cs, forward then backward, on raw float32 files of a folder.
// Usage: bn_relu_harness DIR ROWS C GRID_X GRID_Y MERGE_THREADS EPS MOMENTUM [bf16]
// With bf16, x and dy are stored as bfloat16 (rounded from the files' floats) and the _bf16 entries run; y and dx are
// written back as the floats their bf16 values are.
// Reads x, dy (ROWS x C), w, b, running_mean, running_var and, if present, mean_shift (C) and residual (ROWS x C: the
// _residual entries run, y = relu(bn(x)) + residual); writes y, mean, invstd, running_mean.out,
// running_var.out, dx, dw, db, and batches (num_batches_tracked after the forward, from 7, as a float).
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc != 9 && !(argc == 10 && std::string(argv[9]) == "bf16")) { fprintf(stderr, "usage: DIR ROWS C GRID_X GRID_Y MERGE_THREADS EPS MOMENTUM [bf16]\n"); return 2; }
    bool bf16 = argc == 10;
    std::string dir = argv[1];
    long long rows = atoll(argv[2]);
    int C = atoi(argv[3]);
    unsigned gx = (unsigned)atoi(argv[4]), gy = (unsigned)atoi(argv[5]), threads = (unsigned)atoi(argv[6]);
    float eps = (float)atof(argv[7]), momentum = (float)atof(argv[8]);
    size_t n = (size_t)rows * C;
    auto x = load(dir, "x", n), dy = load(dir, "dy", n), w = load(dir, "w", C), b = load(dir, "b", C);
    auto rm = load(dir, "running_mean", C), rv = load(dir, "running_var", C), shift = load(dir, "mean_shift", C, true);
    auto res = load(dir, "residual", n, true);
    auto res16 = to_bf16(res);
    long long batches = 7;
    std::vector<float> y(n), mean(C), invstd(C), partial(3 * (size_t)gy * C), dx(n), dw(C), db(C), sums(2 * (size_t)gy * C), k(2 * C);
    dim3 grid{gx, gy, 1}, tile{32, 8, 1}, merge{(unsigned)C, 1, 1}, mergeBlock{threads, 1, 1};
    std::vector<bf16_t> x16 = to_bf16(x), dy16 = to_bf16(dy), y16(n), dx16(n);
    if (bf16) launch(grid, tile, bn_relu_stats_bf16, (const bf16_t*)x16.data(), rows, C, partial.data());
    else launch(grid, tile, bn_relu_stats, (const float*)x.data(), rows, C, partial.data());
    launch(merge, mergeBlock, bn_relu_stats_finalize, (const float*)partial.data(), (int)gy, C, eps, momentum, mean.data(), invstd.data(), rm.data(), rv.data(), &batches,
           shift.empty() ? (const float*)nullptr : (const float*)shift.data());
    const float *mp = mean.data(), *ip = invstd.data(), *wp = w.data(), *bp = b.data();
    if (bf16 && !res.empty())
        launch(grid, tile, bn_relu_apply_residual_bf16, (const bf16_t*)x16.data(), y16.data(), rows, C, mp, ip, wp, bp, (const bf16_t*)res16.data());
    else if (bf16)
        launch(grid, tile, bn_relu_apply_bf16, (const bf16_t*)x16.data(), y16.data(), rows, C, mp, ip, wp, bp);
    else if (!res.empty())
        launch(grid, tile, bn_relu_apply_residual, (const float*)x.data(), y.data(), rows, C, mp, ip, wp, bp, (const float*)res.data());
    else
        launch(grid, tile, bn_relu_apply, (const float*)x.data(), y.data(), rows, C, mp, ip, wp, bp);
    if (bf16)
        launch(grid, tile, bn_relu_backward_sums_bf16, (const bf16_t*)x16.data(), (const bf16_t*)dy16.data(), rows, C, (const float*)mean.data(),
               (const float*)invstd.data(), (const float*)w.data(), (const float*)b.data(), sums.data());
    else
        launch(grid, tile, bn_relu_backward_sums, (const float*)x.data(), (const float*)dy.data(), rows, C, (const float*)mean.data(),
               (const float*)invstd.data(), (const float*)w.data(), (const float*)b.data(), sums.data());
    launch(merge, mergeBlock, bn_relu_backward_finalize, (const float*)sums.data(), (int)gy, C, rows, (const float*)invstd.data(), dw.data(), db.data(), k.data());
    if (bf16) {
        launch(grid, tile, bn_relu_backward_input_bf16, (const bf16_t*)x16.data(), (const bf16_t*)dy16.data(), dx16.data(), rows, C,
               (const float*)mean.data(), (const float*)invstd.data(), (const float*)w.data(), (const float*)b.data(), (const float*)k.data());
        y = from_bf16(y16);
        dx = from_bf16(dx16);
    } else
        launch(grid, tile, bn_relu_backward_input, (const float*)x.data(), (const float*)dy.data(), dx.data(), rows, C, (const float*)mean.data(),
               (const float*)invstd.data(), (const float*)w.data(), (const float*)b.data(), (const float*)k.data());
    save(dir, "y", y); save(dir, "mean", mean); save(dir, "invstd", invstd);
    save(dir, "running_mean.out", rm); save(dir, "running_var.out", rv);
    save(dir, "dx", dx); save(dir, "dw", dw); save(dir, "db", db);
    save(dir, "batches", std::vector<float>{(float)batches});
    return 0;
}
