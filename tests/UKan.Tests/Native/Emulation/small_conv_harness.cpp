// Runs the small 3 x 3 convolution kernels (KERNEL_SOURCE: the fused program, small_conv.cu among it) under
// cuda_emulation.h (mma.sync emulated with its fragment layouts) in the launch geometry Native/SmallConvKernels.cs
// computes (passed in), on raw float32 files in the kernels' memory order (channels-last maps, the weight as
// (out, kh, kw, in)).
// Usage: small_conv_harness DIR CIN COUT N H W FORWARD_BLOCKS FORWARD_THREADS GRAD_BLOCKS WEIGHT_BLOCKS ROWS_PER_BLOCK
//        WEIGHT_THREADS MERGE_BLOCKS MERGE_LANES [bias] [rows] [stats BLOCKS THREADS]   (the merge: partial_sums.cu's,
//        in Native/PartialSums.cs's geometry; rows: the weight gradient with a warp per kernel row, conv3x3_weight_rows_*;
//        stats: also the forward with its output's statistics, conv3x3_forward_stats_*, in that geometry, writing ys
//        (its y) and stats (BLOCKS x 3 x COUT))
// Reads x (N H W CIN), w (COUT 3 3 CIN), g (N H W COUT) and, with "bias", b (COUT); writes y (N H W COUT), gw (COUT 3 3
// CIN) and gx (N H W CIN). Outputs start as NaN, so that a value a
// kernel leaves unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"
#include <string>

typedef void (*Forward)(const float*, const float*, const float*, float*, int, int, int);
typedef void (*Partial)(const float*, const float*, float*, int, int, int, int);
typedef void (*InputGrad)(const float*, const float*, float*, int, int, int);
typedef void (*ForwardStats)(const float*, const float*, float*, float*, int, int, int);

struct Entries { int cin, cout; Forward forward; Partial partial; InputGrad inputGrad; Partial rows; ForwardStats stats; };

int main(int argc, char** argv) {
    if (argc < 15) { fprintf(stderr, "usage: see the header\n"); return 2; }
    std::string dir = argv[1];
    int cin = atoi(argv[2]), cout = atoi(argv[3]), N = atoi(argv[4]), H = atoi(argv[5]), W = atoi(argv[6]);
    unsigned fBlocks = atoi(argv[7]), fThreads = atoi(argv[8]), gBlocks = atoi(argv[9]);
    unsigned wBlocks = atoi(argv[10]); int rowsPerBlock = atoi(argv[11]); unsigned wThreads = atoi(argv[12]);
    unsigned mergeBlocks = atoi(argv[13]), mergeLanes = atoi(argv[14]);
    bool withBias = false, rows = false;
    unsigned sBlocks = 0, sThreads = 0;
    for (int a = 15; a < argc; a++) {
        withBias = withBias || std::string(argv[a]) == "bias";
        rows = rows || std::string(argv[a]) == "rows";
        if (std::string(argv[a]) == "stats" && a + 2 < argc) { sBlocks = atoi(argv[a + 1]); sThreads = atoi(argv[a + 2]); a += 2; }
    }
    // Each shape's entries, as small_conv.cu's CONV3X3_ENTRIES names them.
#define CONV3X3_SHAPE(CI, CO)                                                                                             \
    {CI, CO, conv3x3_forward_##CI##_##CO, conv3x3_weight_partial_##CI##_##CO, conv3x3_input_grad_##CI##_##CO,             \
     conv3x3_weight_rows_##CI##_##CO, conv3x3_forward_stats_##CI##_##CO}
    const Entries table[] = {
        CONV3X3_SHAPE(8, 8),  CONV3X3_SHAPE(8, 16),  CONV3X3_SHAPE(8, 32),  CONV3X3_SHAPE(16, 8), CONV3X3_SHAPE(16, 16),
        CONV3X3_SHAPE(16, 32), CONV3X3_SHAPE(32, 8), CONV3X3_SHAPE(32, 16), CONV3X3_SHAPE(32, 32),
    };
#undef CONV3X3_SHAPE
    const Entries* e = nullptr;
    for (auto& t : table) if (t.cin == cin && t.cout == cout) e = &t;
    if (!e) { fprintf(stderr, "no kernels for %d -> %d\n", cin, cout); return 2; }

    size_t px = (size_t)N * H * W, k = 9 * (size_t)cin * cout;
    auto x = load(dir, "x", px * cin), w = load(dir, "w", k), g = load(dir, "g", px * cout);
    auto b = withBias ? load(dir, "b", cout) : std::vector<float>();
    std::vector<float> y(px * cout, NAN), gx(px * cin, NAN), gw(k, NAN), partial(wBlocks * k, NAN);
    launch(dim3{fBlocks, 1, 1}, dim3{fThreads, 1, 1}, e->forward, (const float*)x.data(), (const float*)w.data(),
           withBias ? (const float*)b.data() : (const float*)nullptr, y.data(), N, H, W);
    save(dir, "y", y);
    if (sBlocks > 0) {
        std::vector<float> ys(px * cout, NAN), stats(3 * (size_t)sBlocks * cout, NAN);
        launch(dim3{sBlocks, 1, 1}, dim3{sThreads, 1, 1}, e->stats, (const float*)x.data(), (const float*)w.data(), ys.data(), stats.data(),
               N, H, W);
        save(dir, "ys", ys);
        save(dir, "stats", stats);
    }
    launch(dim3{gBlocks, 1, 1}, dim3{fThreads, 1, 1}, e->inputGrad, (const float*)g.data(), (const float*)w.data(), gx.data(), N, H, W);
    save(dir, "gx", gx);
    launch(dim3{wBlocks, 1, 1}, dim3{wThreads, 1, 1}, rows ? e->rows : e->partial, (const float*)x.data(), (const float*)g.data(), partial.data(), N,
           H, W, rowsPerBlock);
    launch(dim3{mergeBlocks, 1, 1}, dim3{32, mergeLanes, 1}, sum_partial_rows, (const float*)partial.data(), (int)wBlocks, (int)k,
           gw.data());
    save(dir, "gw", gw);
    return 0;
}
