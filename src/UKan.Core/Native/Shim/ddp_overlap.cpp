// Gradient all-reduce overlapped with backward (what torch DistributedDataParallel's reducer does): a
// post-accumulate-grad hook on every parameter (torch::autograd::impl::set_post_acc_grad_hooks, the C++ side of
// Python's Tensor.register_post_accumulate_grad_hook) tells the caller when that parameter's gradient has been
// accumulated; the caller decides which buckets may start (in one order on every rank, as NCCL requires) and calls
// ukan_overlap_launch for each, which makes a dedicated communication stream wait for the gradient work queued so far
// on the current stream and queues ncclAllReduce(avg) of the bucket's range there. ukan_overlap_join makes the
// current stream wait for the communication stream before the optimizer reads the gradients. Every call is a stream
// operation (event record, stream wait, NCCL), so the same sequence can be recorded in a CUDA graph.
// NCCL is reached through the address of ncclAllReduce that the caller already loaded: no NCCL headers here.
// Kept apart from torch_shim.cpp so that a build failure here disables only the overlap, not the rest of the shim.
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <torch/csrc/autograd/variable.h>
#include <memory>
#include <string>
#include <vector>
static std::string last_error;
#define GUARD(body) try { body; return 0; } catch (const std::exception& e) { last_error = e.what(); return 1; }
#define CUDA_OK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) throw std::runtime_error(std::string(#call ": ") + cudaGetErrorString(e_)); } while (0)
// ncclResult_t ncclAllReduce(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t)
typedef int (*AllReduceFn)(const void*, void*, size_t, int, int, void*, cudaStream_t);
typedef void (*ReadyFn)(int parameter);
static const int nccl_float32 = 7, nccl_avg = 4;

struct ReadyHook final : torch::autograd::PostAccumulateGradHook {
    ReadyFn ready; int index;
    ReadyHook(ReadyFn r, int i) : ready(r), index(i) {}
    void operator()(const torch::autograd::Variable&) override { ready(index); }
};

struct Overlap {
    int device; AllReduceFn all_reduce; void* comm;
    c10::cuda::CUDAStream comm_stream;
    std::vector<cudaEvent_t> bucket_events; cudaEvent_t join_event = nullptr;
    std::vector<at::Tensor> parameters;
    Overlap(int d, AllReduceFn f, void* c) : device(d), all_reduce(f), comm(c), comm_stream(c10::cuda::getStreamFromPool(true, d)) {}
    ~Overlap() {
        for (auto& p : parameters) torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
        c10::cuda::CUDAGuard guard(device);
        for (auto e : bucket_events) cudaEventDestroy(e);
        if (join_event) cudaEventDestroy(join_event);
    }
};

extern "C" {
const char* ukan_overlap_last_error() { return last_error.c_str(); }
// parameters: TorchSharp tensor handles (at::Tensor*); the hook of parameters[i] calls ready(i).
int ukan_overlap_create(int device, void* all_reduce, void* comm, ReadyFn ready, int count, void** parameters, int buckets, void** out) { GUARD(
    c10::cuda::CUDAGuard guard(device);
    auto o = std::make_unique<Overlap>(device, (AllReduceFn)all_reduce, comm);
    // Created here, outside any graph capture; only recorded and waited on later.
    o->bucket_events.assign(buckets, nullptr);
    for (auto& e : o->bucket_events) CUDA_OK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    CUDA_OK(cudaEventCreateWithFlags(&o->join_event, cudaEventDisableTiming));
    for (int i = 0; i < count; i++) {
        at::Tensor p = *(at::Tensor*)parameters[i];
        torch::autograd::impl::set_post_acc_grad_hooks(p, std::make_unique<ReadyHook>(ready, i));
        o->parameters.push_back(p);
    }
    *out = o.release()) }
void ukan_overlap_destroy(void* o) { delete (Overlap*)o; }
// On the calling thread's current stream (autograd's stream for the hook's parameter, or the step's after backward).
int ukan_overlap_launch(void* handle, int bucket, void* data, long long count) { GUARD(
    auto o = (Overlap*)handle;
    c10::cuda::CUDAGuard guard(o->device);
    auto ev = o->bucket_events.at(bucket);
    CUDA_OK(cudaEventRecord(ev, c10::cuda::getCurrentCUDAStream(o->device).stream()));
    CUDA_OK(cudaStreamWaitEvent(o->comm_stream.stream(), ev, 0));
    int r = o->all_reduce(data, data, (size_t)count, nccl_float32, nccl_avg, o->comm, o->comm_stream.stream());
    if (r != 0) throw std::runtime_error("ncclAllReduce failed (ncclResult " + std::to_string(r) + ")")) }
int ukan_overlap_join(void* handle) { GUARD(
    auto o = (Overlap*)handle;
    c10::cuda::CUDAGuard guard(o->device);
    CUDA_OK(cudaEventRecord(o->join_event, o->comm_stream.stream()));
    CUDA_OK(cudaStreamWaitEvent(c10::cuda::getCurrentCUDAStream(o->device).stream(), o->join_event, 0))) }
}
