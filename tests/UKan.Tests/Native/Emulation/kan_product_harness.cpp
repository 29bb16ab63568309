// Runs the KAN product kernels (KERNEL_SOURCE: the fused program, kan_product.cu and kan_product_tf32x3.cu among it)
// under cuda_emulation.h in the launch geometry of Native/KanProductKernels.cs (grid (tiles, splits), THREADS threads and
// SHARED bytes of dynamic shared memory, both passed in as the C# side computes them), then, with more than one slice,
// the merge of partial_sums.cu in Native/PartialSums.cs's geometry (passed in).
// Usage: kan_product_harness DIR KIND LAYOUT BM BN THREADS SHARED M N K SPLITS SLICE LDA LDB MERGE_BLOCKS MERGE_LANES
// (KIND: fp32 for the CUDA-core kernels, tf32x3 for the tensor-core ones; SLICE: each slice's depth,
// Native/KanProductKernels.cs's Slice; the last one takes what is left)
// LAYOUT is nt, tn or nn (kan_product.cu's letters: a's then b's, n row-major, t transposed). Reads a (M x LDA floats
// for a row-major a, K x LDA for a transposed one) and b (K x LDB, or N x LDB transposed); writes c (M x N), which
// starts as NaN so that an output a kernel leaves unwritten shows.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"
#include <string>

typedef void (*Product)(const float*, long long, const float*, long long, float*, int, int, int, int);

struct Entry { std::string kind; int bm, bn; const char* layout; Product run; };

int main(int argc, char** argv) {
    if (argc != 17) { fprintf(stderr, "usage: see the header\n"); return 2; }
    std::string dir = argv[1], kind = argv[2], layout = argv[3];
    int bm = atoi(argv[4]), bn = atoi(argv[5]), threads = atoi(argv[6]);
    size_t shared = (size_t)atoll(argv[7]);
    int M = atoi(argv[8]), N = atoi(argv[9]), K = atoi(argv[10]), S = atoi(argv[11]), slice = atoi(argv[12]);
    long long lda = atoll(argv[13]), ldb = atoll(argv[14]);
    unsigned mergeBlocks = atoi(argv[15]), mergeLanes = atoi(argv[16]);
    // The entries, as KAN_PRODUCT_LAYOUTS and KAN_TC_LAYOUTS name them.
#define KAN_PRODUCT_TILE(BM, BN) \
    {"fp32", BM, BN, "nt", kan_product_##BM##x##BN##_nt}, {"fp32", BM, BN, "tn", kan_product_##BM##x##BN##_tn}, \
    {"fp32", BM, BN, "nn", kan_product_##BM##x##BN##_nn}, {"tf32x3", BM, BN, "nt", kan_product_tf32x3_##BM##x##BN##_nt}, \
    {"tf32x3", BM, BN, "tn", kan_product_tf32x3_##BM##x##BN##_tn}, {"tf32x3", BM, BN, "nn", kan_product_tf32x3_##BM##x##BN##_nn}
    const Entry table[] = {KAN_PRODUCT_TILE(128, 128), KAN_PRODUCT_TILE(128, 64), KAN_PRODUCT_TILE(64, 128), KAN_PRODUCT_TILE(64, 64),
                           KAN_PRODUCT_TILE(128, 32), KAN_PRODUCT_TILE(64, 32)};
#undef KAN_PRODUCT_TILE
    const Entry* e = nullptr;
    for (auto& t : table) if (t.kind == kind && t.bm == bm && t.bn == bn && layout == t.layout) e = &t;
    int step = kind == "tf32x3" ? 16 : 8;
    if (!e || S < 1 || K % step != 0 || slice % step != 0 || (S - 1) * slice >= K) { fprintf(stderr, "no kernel for %s %s %dx%d in %d\n", kind.c_str(), layout.c_str(), bm, bn, S); return 2; }

    auto a = load(dir, "a", (size_t)(layout[0] == 'n' ? M : K) * lda), b = load(dir, "b", (size_t)(layout[1] == 'n' ? K : N) * ldb);
    std::vector<float> c((size_t)M * N, NAN), partial((size_t)S * M * N, NAN);
    unsigned tiles = (unsigned)(((M + bm - 1) / bm) * ((N + bn - 1) / bn));
    launch_shared(dim3{tiles, (unsigned)S, 1}, dim3{(unsigned)threads, 1, 1}, shared, e->run, (const float*)a.data(), lda,
                  (const float*)b.data(), ldb, S > 1 ? partial.data() : c.data(), M, N, K, slice);
    if (S > 1)
        launch(dim3{mergeBlocks, 1, 1}, dim3{32, mergeLanes, 1}, sum_partial_rows, (const float*)partial.data(), S, M * N, c.data());
    save(dir, "c", c);
    return 0;
}
