#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
// torch._foreach_copy_ exists from PyTorch 2.1; with older headers the copy below falls back to one copy_ per pair.
#if __has_include(<ATen/ops/_foreach_copy.h>)
#include <ATen/ops/_foreach_copy.h>
#define UKAN_FOREACH_COPY 1
#endif
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>
static std::string last_error;
static std::optional<c10::cuda::CUDAStream> side_stream;
static thread_local std::optional<c10::cuda::CUDAStream> outer_stream;
// to[i].copy_(from[i]) for every i: in PyTorch's multi-tensor kernel where the headers have it.
static void copy_all(std::vector<at::Tensor>& to, std::vector<at::Tensor>& from) {
#ifdef UKAN_FOREACH_COPY
    if (!to.empty()) at::_foreach_copy_(to, from);
#else
    for (size_t i = 0; i < to.size(); i++) to[i].copy_(from[i]);
#endif
}
#define GUARD(body) try { body; return 0; } catch (const std::exception& e) { last_error = e.what(); return 1; }
extern "C" {
const char* ukan_last_error() { return last_error.c_str(); }
long long ukan_peak_allocated(int d) { return c10::cuda::CUDACachingAllocator::getDeviceStats(d).allocated_bytes[0].peak; }
long long ukan_peak_reserved(int d) { return c10::cuda::CUDACachingAllocator::getDeviceStats(d).reserved_bytes[0].peak; }
long long ukan_current_allocated(int d) { return c10::cuda::CUDACachingAllocator::getDeviceStats(d).allocated_bytes[0].current; }
void ukan_reset_peak(int d) { c10::cuda::CUDACachingAllocator::resetPeakStats(d); }
void* ukan_current_stream(int d) { return (void*)c10::cuda::getCurrentCUDAStream(d).stream(); }
int ukan_side_stream_enter(int d) { GUARD(
    auto cur = c10::cuda::getCurrentCUDAStream(d);
    if (!side_stream) side_stream = c10::cuda::getStreamFromPool(false, d);
    at::cuda::CUDAEvent ev; ev.record(cur); ev.block(*side_stream);
    outer_stream = cur; c10::cuda::setCurrentCUDAStream(*side_stream)) }
int ukan_side_stream_exit(int d) { GUARD(
    auto cur = c10::cuda::getCurrentCUDAStream(d);
    at::cuda::CUDAEvent ev; ev.record(cur); ev.block(*outer_stream);
    c10::cuda::setCurrentCUDAStream(*outer_stream)) }
void ukan_set_cudnn_benchmark(int on) { at::globalContext().setBenchmarkCuDNN(on != 0); }
// torch.backends.cudnn.benchmark_limit: how many of cuDNN's heuristic candidates autotuning times per shape (0 = all).
void ukan_set_cudnn_benchmark_limit(int n) { at::globalContext().setBenchmarkLimitCuDNN(n); }
// Bit-reproducible runs (ukan train --deterministic): cuDNN's deterministic algorithms only, and PyTorch's
// deterministic implementations where it has them (torch.use_deterministic_algorithms(True, warn_only=True): a warning,
// not an error, for the rest), with the cuBLAS workspace setting that deterministic cuBLAS needs (read when cuBLAS
// first allocates its workspace: call this before the first matrix product; a value the user set is kept).
void ukan_set_deterministic(int on) {
    if (on) setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);
    at::globalContext().setDeterministicCuDNN(on != 0);
    at::globalContext().setDeterministicAlgorithms(on != 0, true);
}
// CUDA autocast to bfloat16 on the calling thread (torch.autocast("cuda", torch.bfloat16, cache_enabled=False)):
// without the weight-cast cache, so that a CUDA graph capture holds no cached casts from outside it.
int ukan_set_autocast_bf16(int on) { GUARD(
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_cache_enabled(false);
    at::autocast::set_autocast_enabled(at::kCUDA, on != 0)) }
// dst[i].copy_(src[i]) for every i through torch._foreach_copy_ (PyTorch >= 2.1), which copies many tensors per launch
// where every pair has equal sizes and strides and all are dense on one device (the caller passes only such pairs).
// dst and src: TorchSharp tensor handles (at::Tensor*).
int ukan_foreach_copy(void** dst, void** src, int count) { GUARD(
    std::vector<at::Tensor> to;
    std::vector<at::Tensor> from;
    for (int i = 0; i < count; i++) { to.push_back(*(at::Tensor*)dst[i]); from.push_back(*(at::Tensor*)src[i]); }
    copy_all(to, from)) }
void* ukan_graph_create() { return new at::cuda::CUDAGraph(); }
void ukan_graph_destroy(void* g) { delete (at::cuda::CUDAGraph*)g; }
int ukan_graph_capture_begin(void* g) { GUARD(((at::cuda::CUDAGraph*)g)->capture_begin()) }
int ukan_graph_capture_end(void* g) { GUARD(((at::cuda::CUDAGraph*)g)->capture_end()) }
int ukan_graph_replay(void* g) { GUARD(((at::cuda::CUDAGraph*)g)->replay()) }
}
