// Runs the thin-input weight-gradient kernels (KERNEL_SOURCE: the fused program, thin_conv.cu among it) under
// cuda_emulation.h in the geometry of Native/ThinConvKernels.cs (passed in), then partial_sums.cu's merge, on raw float32
// files in the kernels' memory order.
// Usage: thin_conv_harness DIR CIN COUT N H W BLOCKS ROWS_PER_BLOCK THREADS MERGE_BLOCKS MERGE_LANES
// Reads x (N H W CIN) and g (N H W COUT); writes gw (COUT 3 3 CIN). The partials and gw start as NaN, so that a value a
// kernel leaves unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"
#include <string>

typedef void (*Partial)(const float*, const float*, float*, int, int, int, int);

int main(int argc, char** argv) {
    if (argc != 12) { fprintf(stderr, "usage: see the header\n"); return 2; }
    std::string dir = argv[1];
    int cin = atoi(argv[2]), cout = atoi(argv[3]), N = atoi(argv[4]), H = atoi(argv[5]), W = atoi(argv[6]);
    unsigned blocks = atoi(argv[7]); int rowsPerBlock = atoi(argv[8]); unsigned threads = atoi(argv[9]);
    unsigned mergeBlocks = atoi(argv[10]), mergeLanes = atoi(argv[11]);
    struct Entry { int cin, cout; Partial partial; };
    const Entry table[] = {
        {1, 8, conv3x3_thin_weight_partial_1_8}, {1, 16, conv3x3_thin_weight_partial_1_16}, {1, 32, conv3x3_thin_weight_partial_1_32},
        {2, 8, conv3x3_thin_weight_partial_2_8}, {2, 16, conv3x3_thin_weight_partial_2_16}, {2, 32, conv3x3_thin_weight_partial_2_32},
        {3, 8, conv3x3_thin_weight_partial_3_8}, {3, 16, conv3x3_thin_weight_partial_3_16}, {3, 32, conv3x3_thin_weight_partial_3_32},
        {4, 8, conv3x3_thin_weight_partial_4_8}, {4, 16, conv3x3_thin_weight_partial_4_16}, {4, 32, conv3x3_thin_weight_partial_4_32},
    };
    const Entry* e = nullptr;
    for (auto& t : table) if (t.cin == cin && t.cout == cout) e = &t;
    if (!e) { fprintf(stderr, "no kernel for %d -> %d\n", cin, cout); return 2; }
    size_t px = (size_t)N * H * W, k = 9 * (size_t)cin * cout;
    auto x = load(dir, "x", px * cin), g = load(dir, "g", px * cout);
    std::vector<float> partial(blocks * k, NAN), gw(k, NAN);
    launch(dim3{blocks, 1, 1}, dim3{threads, 1, 1}, e->partial, (const float*)x.data(), (const float*)g.data(), partial.data(), N, H, W, rowsPerBlock);
    launch(dim3{mergeBlocks, 1, 1}, dim3{32, mergeLanes, 1}, sum_partial_rows, (const float*)partial.data(), (int)blocks, (int)k, gw.data());
    save(dir, "gw", gw);
    return 0;
}
