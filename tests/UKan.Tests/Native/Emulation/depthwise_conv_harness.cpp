// Runs the depthwise 3 x 3 convolution kernels (KERNEL_SOURCE: the fused program, depthwise_conv.cu among it) under
// cuda_emulation.h in the geometry of Native/DepthwiseConvKernels.cs, on raw float32 files of a folder: the forward,
// the input gradient, then the weight gradient's two stages (the second: partial_sums.cu's merge).
// Usage: depthwise_conv_harness DIR N H W C VEC STENCIL_BLOCKS STENCIL_BLOCK TILES GROUPS TX TY MERGE_BLOCKS MERGE_LANES
// (the launcher's StencilLaunch and WeightLaunch, one VEC for all three as it derives it from one layout). Reads x and gy
// (N x H x W x C, NHWC memory order) and w (C x 9); writes y and gx (NHWC) and gw (C x 9). Outputs and the partials
// start as NaN (what an uninitialised tensor might hold), so that a value a kernel leaves unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc != 15) {
        fprintf(stderr, "usage: DIR N H W C VEC STENCIL_BLOCKS STENCIL_BLOCK TILES GROUPS TX TY MERGE_BLOCKS MERGE_LANES\n");
        return 2;
    }
    std::string dir = argv[1];
    int N = atoi(argv[2]), H = atoi(argv[3]), W = atoi(argv[4]), C = atoi(argv[5]), vec = atoi(argv[6]);
    unsigned stencilBlocks = (unsigned)atoi(argv[7]), stencilBlock = (unsigned)atoi(argv[8]);
    unsigned tiles = (unsigned)atoi(argv[9]), groups = (unsigned)atoi(argv[10]), tx = (unsigned)atoi(argv[11]), ty = (unsigned)atoi(argv[12]);
    unsigned mergeBlocks = (unsigned)atoi(argv[13]), lanes = (unsigned)atoi(argv[14]);
    size_t n = (size_t)N * H * W * C;
    auto x = load(dir, "x", n), gy = load(dir, "gy", n), w = load(dir, "w", (size_t)C * 9);
    std::vector<float> y(n, NAN), gx(n, NAN), partial((size_t)groups * C * 9, NAN), gw((size_t)C * 9, NAN);

    launch(dim3{stencilBlocks, 1, 1}, dim3{stencilBlock, 1, 1}, dwconv3x3_forward, (const float*)x.data(), (const float*)w.data(), y.data(),
           N, H, W, C, vec);
    launch(dim3{stencilBlocks, 1, 1}, dim3{stencilBlock, 1, 1}, dwconv3x3_backward_input, (const float*)gy.data(), (const float*)w.data(),
           gx.data(), N, H, W, C, vec);
    launch(dim3{tiles, groups, 1}, dim3{tx, ty, 1}, dwconv3x3_backward_weight_partial, (const float*)x.data(), (const float*)gy.data(),
           partial.data(), N, H, W, C, vec);
    launch(dim3{mergeBlocks, 1, 1}, dim3{32, lanes, 1}, sum_partial_rows, (const float*)partial.data(), (int)groups, 9 * C,
           gw.data());
    save(dir, "y", y); save(dir, "gx", gx); save(dir, "gw", gw);
    return 0;
}
