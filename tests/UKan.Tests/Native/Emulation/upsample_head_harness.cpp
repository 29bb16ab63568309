// Runs the kernels of the last upsampling with the segmentation head (KERNEL_SOURCE: the fused program,
// upsample_relu.cu's upsample2x_relu_conv1x1 entries among it) under cuda_emulation.h in the launch geometry of
// Native/UpsampleKernels.cs (passed in), with partial_sums.cu's merge in Native/PartialSums.cs's geometry.
// Usage: upsample_head_harness DIR N H W C K FORWARD_BLOCKS BLOCKS THREADS MERGE_BLOCKS MERGE_LANES (BLOCKS: the backward's)
// Reads x (N H W C, channels-last), w (K C), b (K) and g (N K 2H 2W); writes z (N K 2H 2W), gx (N H W C), gw (K C) and
// gb (K). Outputs start as NaN, so that a value a kernel leaves unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"
#include <string>

typedef void (*Forward)(const float*, const float*, const float*, float*, int, int, int, int);
typedef void (*Backward)(const float*, const float*, const float*, float*, float*, int, int, int, int);

int main(int argc, char** argv) {
    if (argc != 12) { fprintf(stderr, "usage: see the header\n"); return 2; }
    std::string dir = argv[1];
    int N = atoi(argv[2]), H = atoi(argv[3]), W = atoi(argv[4]), C = atoi(argv[5]), K = atoi(argv[6]);
    unsigned forwardBlocks = atoi(argv[7]), blocks = atoi(argv[8]), threads = atoi(argv[9]), mergeBlocks = atoi(argv[10]),
             mergeLanes = atoi(argv[11]);
    const Forward forwards[] = {upsample2x_relu_conv1x1_1, upsample2x_relu_conv1x1_2, upsample2x_relu_conv1x1_3, upsample2x_relu_conv1x1_4};
    const Backward backwards[] = {upsample2x_relu_conv1x1_backward_1, upsample2x_relu_conv1x1_backward_2,
                                  upsample2x_relu_conv1x1_backward_3, upsample2x_relu_conv1x1_backward_4};
    if (K < 1 || K > 4 || C % 4 != 0) { fprintf(stderr, "no kernels for %d channels, %d classes\n", C, K); return 2; }

    size_t px = (size_t)N * H * W, e = (size_t)K * C + K;
    auto x = load(dir, "x", px * C), w = load(dir, "w", (size_t)K * C), b = load(dir, "b", K), g = load(dir, "g", 4 * px * K);
    std::vector<float> z(4 * px * K, NAN), gx(px * C, NAN), partial(blocks * e, NAN), sums(e, NAN);
    launch(dim3{forwardBlocks, 1, 1}, dim3{threads, 1, 1}, forwards[K - 1], (const float*)x.data(), (const float*)w.data(), (const float*)b.data(),
           z.data(), N, H, W, C / 4);
    save(dir, "z", z);
    launch(dim3{blocks, 1, 1}, dim3{threads, 1, 1}, backwards[K - 1], (const float*)x.data(), (const float*)w.data(), (const float*)g.data(),
           gx.data(), partial.data(), N, H, W, C / 2);
    launch(dim3{mergeBlocks, 1, 1}, dim3{32, mergeLanes, 1}, sum_partial_rows, (const float*)partial.data(), (int)blocks, (int)e, sums.data());
    save(dir, "gx", gx);
    save(dir, "gw", std::vector<float>(sums.begin(), sums.begin() + (size_t)K * C));
    save(dir, "gb", std::vector<float>(sums.begin() + (size_t)K * C, sums.end()));
    return 0;
}
