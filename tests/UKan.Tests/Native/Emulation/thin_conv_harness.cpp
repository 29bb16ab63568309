// Runs the thin-input kernels (KERNEL_SOURCE: the fused program, thin_conv.cu among it) under cuda_emulation.h in the
// geometry of Native/ThinConvKernels.cs (passed in): the forward, then the weight gradient's partials and
// partial_sums.cu's merge, on raw float32 files in the kernels' memory order.
// Usage: thin_conv_harness DIR CIN COUT N H W FORWARD_BLOCKS BLOCKS ROWS_PER_BLOCK THREADS MERGE_BLOCKS MERGE_LANES [bias]
// Reads x (N H W CIN), w (COUT 3 3 CIN), g (N H W COUT) and, with "bias", b (COUT); writes y (N H W COUT) and gw
// (COUT 3 3 CIN). Outputs and partials start as NaN, so that a value a kernel leaves unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"
#include <string>

typedef void (*Forward)(const float*, const float*, const float*, float*, int, int, int);
typedef void (*Partial)(const float*, const float*, float*, int, int, int, int);

int main(int argc, char** argv) {
    if (argc < 13) { fprintf(stderr, "usage: see the header\n"); return 2; }
    std::string dir = argv[1];
    int cin = atoi(argv[2]), cout = atoi(argv[3]), N = atoi(argv[4]), H = atoi(argv[5]), W = atoi(argv[6]);
    unsigned fBlocks = atoi(argv[7]), blocks = atoi(argv[8]); int rowsPerBlock = atoi(argv[9]); unsigned threads = atoi(argv[10]);
    unsigned mergeBlocks = atoi(argv[11]), mergeLanes = atoi(argv[12]);
    bool withBias = argc > 13 && std::string(argv[13]) == "bias";
    struct Entry { int cin, cout; Forward forward; Partial partial; };
    const Entry table[] = {
        {1, 8, conv3x3_thin_forward_1_8, conv3x3_thin_weight_partial_1_8},
        {1, 16, conv3x3_thin_forward_1_16, conv3x3_thin_weight_partial_1_16},
        {1, 32, conv3x3_thin_forward_1_32, conv3x3_thin_weight_partial_1_32},
        {2, 8, conv3x3_thin_forward_2_8, conv3x3_thin_weight_partial_2_8},
        {2, 16, conv3x3_thin_forward_2_16, conv3x3_thin_weight_partial_2_16},
        {2, 32, conv3x3_thin_forward_2_32, conv3x3_thin_weight_partial_2_32},
        {3, 8, conv3x3_thin_forward_3_8, conv3x3_thin_weight_partial_3_8},
        {3, 16, conv3x3_thin_forward_3_16, conv3x3_thin_weight_partial_3_16},
        {3, 32, conv3x3_thin_forward_3_32, conv3x3_thin_weight_partial_3_32},
        {4, 8, conv3x3_thin_forward_4_8, conv3x3_thin_weight_partial_4_8},
        {4, 16, conv3x3_thin_forward_4_16, conv3x3_thin_weight_partial_4_16},
        {4, 32, conv3x3_thin_forward_4_32, conv3x3_thin_weight_partial_4_32},
    };
    const Entry* e = nullptr;
    for (auto& t : table) if (t.cin == cin && t.cout == cout) e = &t;
    if (!e) { fprintf(stderr, "no kernel for %d -> %d\n", cin, cout); return 2; }
    size_t px = (size_t)N * H * W, k = 9 * (size_t)cin * cout;
    auto x = load(dir, "x", px * cin), w = load(dir, "w", k), g = load(dir, "g", px * cout);
    auto b = withBias ? load(dir, "b", cout) : std::vector<float>();
    std::vector<float> y(px * cout, NAN), partial(blocks * k, NAN), gw(k, NAN);
    launch(dim3{fBlocks, 1, 1}, dim3{threads, 1, 1}, e->forward, (const float*)x.data(), (const float*)w.data(),
           withBias ? (const float*)b.data() : (const float*)nullptr, y.data(), N, H, W);
    save(dir, "y", y);
    launch(dim3{blocks, 1, 1}, dim3{threads, 1, 1}, e->partial, (const float*)x.data(), (const float*)g.data(), partial.data(), N, H, W, rowsPerBlock);
    launch(dim3{mergeBlocks, 1, 1}, dim3{32, mergeLanes, 1}, sum_partial_rows, (const float*)partial.data(), (int)blocks, (int)k, gw.data());
    save(dir, "gw", gw);
    return 0;
}
