// Runs the KANLinear feature kernels, KANLinear's fused-weight kernels or ALL U-KAN's psi kernels (KERNEL_SOURCE: the
// fused program's source) under cuda_emulation.h in the geometry of Native/KanFeatureKernels.cs, KanWeightKernels.cs
// and PsiKernels.cs, on raw float32 files.
// Usage: kan_harness features DIR N K T0 INV_H BLOCK [STORAGE]  reads x (N), gfeat (N*(K+1)); writes feat, gx.
//                                                        STORAGE: f32 (default); to_bf16 (float x, bf16 features and
//                                                        feature gradient); bf16 (all bf16). bf16 values are rounded
//                                                        from the files' floats and written back as floats.
//        kan_harness weight DIR PAIRS K SCALER BLOCK         reads base (PAIRS), spline (PAIRS*K), scaler (PAIRS, if
//                                                        SCALER is 1), gw (PAIRS*(K+1)); writes w, gbase, gspline, gscaler
//        kan_harness psi DIR N K T0 INV_H EXACT GRID      reads u, g (N), c (K), wb, ws (1 each, files optional);
//                                                        writes out, gu (N), acc (K+2)
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc == 7 && std::string(argv[1]) == "weight") {
        std::string dir = argv[2];
        long long pairs = atoll(argv[3]);
        int K = atoi(argv[4]);
        bool scaled = atoi(argv[5]) == 1;
        unsigned block = (unsigned)atoi(argv[6]);
        auto base = load(dir, "base", pairs), spline = load(dir, "spline", pairs * K), gw = load(dir, "gw", pairs * (K + 1));
        auto scaler = scaled ? load(dir, "scaler", pairs) : std::vector<float>();
        const float* s = scaled ? scaler.data() : nullptr;
        std::vector<float> w(pairs * (K + 1)), gbase(pairs), gspline(pairs * K), gscaler(pairs);
        long long n = pairs * (K + 1);
        launch(dim3{(unsigned)((n + block - 1) / block), 1, 1}, dim3{block, 1, 1}, kan_weight_assemble, (const float*)base.data(),
               (const float*)spline.data(), s, w.data(), pairs, K);
        launch(dim3{(unsigned)((pairs + block - 1) / block), 1, 1}, dim3{block, 1, 1}, kan_weight_assemble_backward, (const float*)gw.data(),
               (const float*)spline.data(), s, gbase.data(), gspline.data(), scaled ? gscaler.data() : nullptr, pairs, K);
        save(dir, "w", w);
        save(dir, "gbase", gbase);
        save(dir, "gspline", gspline);
        save(dir, "gscaler", gscaler);
        return 0;
    }
    if (argc != 8 && argc != 9) { fprintf(stderr, "usage: see the file's head\n"); return 2; }
    std::string mode = argv[1], dir = argv[2];
    long long n = atoll(argv[3]);
    int K = atoi(argv[4]), width = K + 1;
    float t0 = (float)atof(argv[5]), inv_h = (float)atof(argv[6]);
    if (mode == "features") {
        std::string storage = argc == 9 ? argv[8] : "f32";
        unsigned block = (unsigned)atoi(argv[7]), grid = (unsigned)((n + block - 1) / block);
        auto x = load(dir, "x", n), gfeat = load(dir, "gfeat", n * width);
        std::vector<float> feat(n * width, NAN), gx(n, NAN);   // NaN: a value a kernel leaves unwritten shows
        size_t shared = (size_t)block * width * sizeof(float);
        dim3 g{grid, 1, 1}, b{block, 1, 1};
        auto x16 = to_bf16(x), gfeat16 = to_bf16(gfeat);
        std::vector<bf16_t> feat16(n * width), gx16(n);
        if (storage == "f32") {
            launch_shared(g, b, shared, kan_features, (const float*)x.data(), feat.data(), n, t0, inv_h, K);
            launch_shared(g, b, shared, kan_features_backward, (const float*)x.data(), (const float*)gfeat.data(), gx.data(), n, t0, inv_h, K);
        } else if (storage == "to_bf16") {
            launch_shared(g, b, shared, kan_features_to_bf16, (const float*)x.data(), feat16.data(), n, t0, inv_h, K);
            launch_shared(g, b, shared, kan_features_backward_from_bf16, (const float*)x.data(), (const bf16_t*)gfeat16.data(), gx.data(), n, t0, inv_h, K);
            feat = from_bf16(feat16);
        } else if (storage == "bf16") {
            launch_shared(g, b, shared, kan_features_bf16, (const bf16_t*)x16.data(), feat16.data(), n, t0, inv_h, K);
            launch_shared(g, b, shared, kan_features_backward_bf16, (const bf16_t*)x16.data(), (const bf16_t*)gfeat16.data(), gx16.data(), n, t0, inv_h, K);
            feat = from_bf16(feat16);
            gx = from_bf16(gx16);
        } else { fprintf(stderr, "storage: f32, to_bf16 or bf16\n"); return 2; }
        save(dir, "feat", feat);
        save(dir, "gx", gx);
        return 0;
    }
    if (mode == "psi" && argc == 9) {
        int exact = atoi(argv[7]);
        unsigned backwardGrid = (unsigned)atoi(argv[8]), block = 256, grid = (unsigned)((n + block - 1) / block);
        auto u = load(dir, "u", n), g = load(dir, "g", n), c = load(dir, "c", K);
        auto wb = load(dir, "wb", 1, true), ws = load(dir, "ws", 1, true);
        const float* wbp = wb.empty() ? nullptr : wb.data();
        const float* wsp = ws.empty() ? nullptr : ws.data();
        std::vector<float> out(n), gu(n), acc(K + 2, 0.0f);
        launch(dim3{grid, 1, 1}, dim3{block, 1, 1}, psi_forward, (const float*)u.data(), out.data(), n, (const float*)c.data(), wbp, wsp, t0, inv_h, K);
        launch(dim3{backwardGrid, 1, 1}, dim3{block, 1, 1}, psi_backward, (const float*)u.data(), (const float*)g.data(), gu.data(), n,
               (const float*)c.data(), wbp, wsp, t0, inv_h, K, exact, acc.data());
        save(dir, "out", out);
        save(dir, "gu", gu);
        save(dir, "acc", acc);
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
}
