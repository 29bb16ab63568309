// Runs the in-place bias + ReLU kernels (KERNEL_SOURCE: the fused program, bias_relu.cu among it) under
// cuda_emulation.h in the geometry of Native/BiasReluKernels.cs, on raw float32 files.
// Usage: bias_relu_harness DIR LAST VEC GRIDX GRIDY BLOCK UNITS INNER C [bf16]
// LAST 1: channels-last (UNITS units of VEC values, INNER units per row); 0: NCHW (GRIDX planes of INNER units).
// Reads y (UNITS x VEC values in memory order) and b (C); writes y.out. With bf16 y is stored as bfloat16 (its values
// must be bf16-representable) and y.out is the bf16 result widened to float.
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc != 10 && argc != 11) { fprintf(stderr, "usage: DIR LAST VEC GRIDX GRIDY BLOCK UNITS INNER C [bf16]\n"); return 2; }
    std::string dir = argv[1];
    bool last = atoi(argv[2]) != 0, bf16 = argc == 11 && std::string(argv[10]) == "bf16";
    int vec = atoi(argv[3]), inner = atoi(argv[8]), C = atoi(argv[9]);
    dim3 grid{(unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]), 1}, block{(unsigned)atoi(argv[6]), 1, 1};
    long long units = atoll(argv[7]);
    auto y = load(dir, "y", (size_t)units * vec), b = load(dir, "b", C);
    if (bf16) {
        auto y16 = to_bf16(y);
        if (last) launch(grid, block, bias_relu_channels_last_bf16, y16.data(), (const float*)b.data(), units, inner, vec);
        else launch(grid, block, bias_relu_nchw_bf16, y16.data(), (const float*)b.data(), C, inner, vec);
        y = from_bf16(y16);
    } else {
        if (last) launch(grid, block, bias_relu_channels_last, y.data(), (const float*)b.data(), units, inner, vec);
        else launch(grid, block, bias_relu_nchw, y.data(), (const float*)b.data(), C, inner, vec);
    }
    save(dir, "y.out", y);
    return 0;
}
