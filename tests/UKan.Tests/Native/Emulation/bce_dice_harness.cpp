// Runs the BCE + Dice loss kernels (KERNEL_SOURCE: the fused program, bce_dice.cu among it) under cuda_emulation.h in
// the order and geometry of Native/BceDiceKernels.cs, on raw float32 files.
// Usage: bce_dice_harness DIR N PER_IMAGE G BCE_WEIGHT SMOOTH GRAD BLOCK
// Reads x, t (N * PER_IMAGE); writes loss (1), sums (N * 3), dx (N * PER_IMAGE) for an incoming gradient GRAD.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc != 9) { fprintf(stderr, "usage: DIR N PER_IMAGE G BCE_WEIGHT SMOOTH GRAD BLOCK\n"); return 2; }
    std::string dir = argv[1];
    int N = atoi(argv[2]);
    long long perImage = atoll(argv[3]);
    unsigned G = (unsigned)atoi(argv[4]);
    double weight = atof(argv[5]), smooth = atof(argv[6]);
    float grad = (float)atof(argv[7]);
    unsigned block = (unsigned)atoi(argv[8]);
    auto x = load(dir, "x", N * perImage), t = load(dir, "t", N * perImage);
    std::vector<float> partial((size_t)N * G * 4), loss(1), sums((size_t)N * 3), dx((size_t)N * perImage);
    launch(dim3{G, (unsigned)N, 1}, dim3{256, 1, 1}, bce_dice_partials, (const float*)x.data(), (const float*)t.data(), perImage, partial.data());
    unsigned threads = (unsigned)std::min(1024, (N + 31) / 32 * 32);
    launch(dim3{1, 1, 1}, dim3{threads, 1, 1}, bce_dice_finalize, (const float*)partial.data(), N, (int)G, (double)N * perImage, weight, smooth,
           loss.data(), sums.data());
    launch(dim3{(unsigned)((perImage + block - 1) / block), (unsigned)N, 1}, dim3{block, 1, 1}, bce_dice_backward, (const float*)x.data(),
           (const float*)t.data(), (const float*)sums.data(), (const float*)&grad, perImage, N, weight, smooth, dx.data());
    save(dir, "loss", loss); save(dir, "sums", sums); save(dir, "dx", dx);
    return 0;
}
