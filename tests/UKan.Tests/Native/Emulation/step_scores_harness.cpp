// Runs the training step's score kernel (KERNEL_SOURCE: the fused program, step_scores.cu among it) under
// cuda_emulation.h in the launch geometry of Native/StepScoreKernels.cs (passed in), twice on the same buffers: the
// second launch must find its counts back at zero and add to the first one's sums.
// Usage: step_scores_harness DIR N BLOCKS THREADS SMOOTH
// Reads logits and target (N values each), loss (2 values: the first and the second launch's) and sums (3: the last
// loss, the loss sum and the IoU sum before); writes sums (after both launches) and counts (3 values, as floats).
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"
#include <string>

int main(int argc, char** argv) {
    if (argc != 6) { fprintf(stderr, "usage: see the header\n"); return 2; }
    std::string dir = argv[1];
    long long n = atoll(argv[2]);
    unsigned blocks = atoi(argv[3]), threads = atoi(argv[4]);
    float smooth = (float)atof(argv[5]);
    auto logits = load(dir, "logits", n), target = load(dir, "target", n), loss = load(dir, "loss", 2), sums = load(dir, "sums", 3);
    std::vector<unsigned long long> counts(3, 0);
    for (int launchNo = 0; launchNo < 2; launchNo++)
        launch(dim3{blocks, 1, 1}, dim3{threads, 1, 1}, train_step_scores, (const float*)logits.data(), (const float*)target.data(), n,
               (const float*)loss.data() + launchNo, smooth, sums.data(), sums.data() + 1, sums.data() + 2, counts.data());
    save(dir, "sums", sums);
    save(dir, "counts", std::vector<float>{(float)counts[0], (float)counts[1], (float)counts[2]});
    return 0;
}
