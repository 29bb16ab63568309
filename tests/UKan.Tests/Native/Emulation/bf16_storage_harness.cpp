// Runs the kernels' bfloat16 storage conversions (KERNEL_SOURCE: the fused program, storage.cu first in it) on the CPU.
// Usage: bf16_storage_harness DIR N
// Reads x (N floats); writes bits (from_float<bf16_t> of each value: its 16 bits as a float, which holds them exactly)
// and widened (to_float of each of the 65536 bf16 bit patterns, in order).
#include "cuda_emulation.h"
#include KERNEL_SOURCE
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: DIR N\n"); return 2; }
    std::string dir = argv[1];
    size_t n = (size_t)atoll(argv[2]);
    auto x = load(dir, "x", n);
    std::vector<float> bits(n), widened(65536);
    for (size_t i = 0; i < n; i++) bits[i] = (float)from_float<bf16_t>(x[i]);
    for (unsigned b = 0; b < 65536; b++) widened[b] = to_float((bf16_t)b);
    save(dir, "bits", bits); save(dir, "widened", widened);
    return 0;
}
