// Raw float32 files for the emulation harnesses: load (a missing optional file gives an empty vector) and save.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

inline std::vector<float> load(const std::string& dir, const char* name, size_t n, bool optional = false) {
    std::vector<float> v(n);
    FILE* f = fopen((dir + "/" + name).c_str(), "rb");
    if (!f && optional) return {};
    if (!f || fread(v.data(), sizeof(float), n, f) != n) { fprintf(stderr, "cannot read %s\n", name); exit(1); }
    fclose(f);
    return v;
}

inline void save(const std::string& dir, const char* name, const std::vector<float>& v) {
    FILE* f = fopen((dir + "/" + name).c_str(), "wb");
    if (!f || fwrite(v.data(), sizeof(float), v.size(), f) != v.size()) { fprintf(stderr, "cannot write %s\n", name); exit(1); }
    fclose(f);
}
