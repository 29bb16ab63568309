// Runs the KANLinear feature kernels, KANLinear's fused-weight kernels or ALL U-KAN's psi kernels (KERNEL_SOURCE: the
// fused program's source) under cuda_emulation.h in the geometry of Native/KanFeatureKernels.cs, KanWeightKernels.cs
// and PsiKernels.cs, on raw float32 files.
// Usage: kan_harness features DIR N K T0 INV_H BLOCK [STORAGE]  reads x (N), gfeat (N*(K+1)); writes feat, gx.
//                                                        STORAGE: f32 (default); to_bf16 (float x, bf16 features and
//                                                        feature gradient); bf16 (all bf16). bf16 values are rounded
//                                                        from the files' floats and written back as floats.
//        kan_harness weight DIR BLOCK PAIRS:K:SCALED:GRAD ...  one launch each way for all the layers given; layer l
//                                                        reads base<l> (PAIRS), spline<l> (PAIRS*K), scaler<l> (if
//                                                        SCALED is 1), gw<l> (PAIRS*(K+1), if GRAD is 1); writes w<l>,
//                                                        gbase<l>, gspline<l>, gscaler<l> (NaN where not written)
//        kan_harness weight-layout DIR                     writes layout: the table's field offsets and size
//        kan_harness psi DIR N K T0 INV_H EXACT GRID      reads u, g (N), c (K), wb, ws (1 each, files optional);
//                                                        writes out, gu (N), acc (K+2)
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "weight-layout") {
        // The table's field offsets and size as the CUDA compiler lays it out, against KanWeightKernels.cs's struct.
        std::vector<float> layout = {(float)offsetof(KanWeightTable, base), (float)offsetof(KanWeightTable, spline),
                                     (float)offsetof(KanWeightTable, scaler), (float)offsetof(KanWeightTable, w),
                                     (float)offsetof(KanWeightTable, grad_base), (float)offsetof(KanWeightTable, grad_spline),
                                     (float)offsetof(KanWeightTable, grad_scaler), (float)offsetof(KanWeightTable, first),
                                     (float)offsetof(KanWeightTable, K), (float)offsetof(KanWeightTable, count),
                                     (float)sizeof(KanWeightTable)};
        save(argv[2], "layout", layout);
        return 0;
    }
    if (argc >= 5 && std::string(argv[1]) == "weight") {
        // One launch each way for all the layers, as KanWeightKernels.cs fills the table.
        std::string dir = argv[2];
        unsigned block = (unsigned)atoi(argv[3]);
        int count = argc - 4;
        std::vector<std::vector<float>> base(count), spline(count), scaler(count), gw(count), w(count), gbase(count), gspline(count), gscaler(count);
        KanWeightTable forward{}, backward{};
        forward.count = backward.count = count;
        for (int l = 0; l < count; l++) {
            long long pairs; int K, scaled, grad;
            if (sscanf(argv[4 + l], "%lld:%d:%d:%d", &pairs, &K, &scaled, &grad) != 4) { fprintf(stderr, "layer: PAIRS:K:SCALED:GRAD\n"); return 2; }
            std::string n = std::to_string(l);
            base[l] = load(dir, ("base" + n).c_str(), pairs);
            spline[l] = load(dir, ("spline" + n).c_str(), pairs * K);
            if (scaled) scaler[l] = load(dir, ("scaler" + n).c_str(), pairs);
            if (grad) gw[l] = load(dir, ("gw" + n).c_str(), pairs * (K + 1));
            w[l].assign(pairs * (K + 1), NAN);
            gbase[l].assign(pairs, NAN), gspline[l].assign(pairs * K, NAN), gscaler[l].assign(pairs, NAN);
            for (KanWeightTable* t : {&forward, &backward}) {
                t->base[l] = base[l].data();
                t->spline[l] = spline[l].data();
                t->scaler[l] = scaled ? scaler[l].data() : nullptr;
                t->K[l] = K;
            }
            forward.w[l] = w[l].data();
            forward.first[l + 1] = forward.first[l] + pairs * (K + 1);
            backward.w[l] = grad ? gw[l].data() : nullptr;
            backward.grad_base[l] = grad ? gbase[l].data() : nullptr;
            backward.grad_spline[l] = grad ? gspline[l].data() : nullptr;
            backward.grad_scaler[l] = grad && scaled ? gscaler[l].data() : nullptr;
            backward.first[l + 1] = backward.first[l] + (grad ? pairs : 0);
        }
        launch(dim3{(unsigned)((forward.first[count] + block - 1) / block), 1, 1}, dim3{block, 1, 1}, kan_weight_assemble, forward);
        if (backward.first[count] > 0)
            launch(dim3{(unsigned)((backward.first[count] + block - 1) / block), 1, 1}, dim3{block, 1, 1}, kan_weight_assemble_backward, backward);
        for (int l = 0; l < count; l++) {
            std::string n = std::to_string(l);
            save(dir, ("w" + n).c_str(), w[l]);
            save(dir, ("gbase" + n).c_str(), gbase[l]);
            save(dir, ("gspline" + n).c_str(), gspline[l]);
            save(dir, ("gscaler" + n).c_str(), gscaler[l]);
        }
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
