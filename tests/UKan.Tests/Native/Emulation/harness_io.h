// Raw float32 files for the emulation harnesses: load (a missing optional file gives an empty vector) and save; the
// command line of the harnesses whose kernels run over rows of planes.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

inline std::vector<float> load(const std::string& dir, const char* name, size_t n, bool optional = false) {
    std::vector<float> v(n);
    FILE* f = fopen((dir + "/" + name).c_str(), "rb");
    if (!f && optional) return {};
    if (!f || fread(v.data(), sizeof(float), n, f) != n) { fprintf(stderr, "cannot read %s\n", name); exit(1); }
    fclose(f);
    return v;
}

// Float values to the kernels' bfloat16 storage (storage.cu: round to nearest even) and back (exact).
inline std::vector<bf16_t> to_bf16(const std::vector<float>& v) {
    std::vector<bf16_t> r(v.size());
    for (size_t i = 0; i < v.size(); i++) r[i] = from_float<bf16_t>(v[i]);
    return r;
}
inline std::vector<float> from_bf16(const std::vector<bf16_t>& v) {
    std::vector<float> r(v.size());
    for (size_t i = 0; i < v.size(); i++) r[i] = to_float(v[i]);
    return r;
}
// Either storage type T of the kernel templates: the files' floats stored as T, and T's values back as floats.
template <typename T> std::vector<T> stored_as(const std::vector<float>& v) {
    if constexpr (std::is_same_v<T, float>) return v; else return to_bf16(v);
}
template <typename T> std::vector<float> as_floats(const std::vector<T>& v) {
    if constexpr (std::is_same_v<T, float>) return v; else return from_bf16(v);
}

inline void save(const std::string& dir, const char* name, const std::vector<float>& v) {
    FILE* f = fopen((dir + "/" + name).c_str(), "wb");
    if (!f || fwrite(v.data(), sizeof(float), v.size(), f) != v.size()) { fprintf(stderr, "cannot write %s\n", name); exit(1); }
    fclose(f);
}

// DIR PLANES H W CPIX CHUNKS BLOCK [bf16]: the exchange folder; PLANES x H x W x CPIX input values in memory order (an
// image per plane with CPIX = C in channels-last, an image's channel per plane with CPIX = 1 in NCHW); the launch's
// grid.y and block size; with bf16, the tensors stored as bfloat16 and the _bf16 entries run. Exits with a usage line on
// a wrong command line.
struct PlaneArgs {
    std::string dir;
    unsigned planes;
    int H, W, cpix;
    unsigned chunks, block;
    bool bf16;
};

inline PlaneArgs plane_args(int argc, char** argv) {
    if (argc != 8 && !(argc == 9 && std::string(argv[8]) == "bf16")) { fprintf(stderr, "usage: DIR PLANES H W CPIX CHUNKS BLOCK [bf16]\n"); exit(2); }
    return {argv[1], (unsigned)atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), (unsigned)atoi(argv[6]), (unsigned)atoi(argv[7]),
            argc == 9};
}
