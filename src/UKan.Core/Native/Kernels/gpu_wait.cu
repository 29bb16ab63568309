// Holds its stream for a given time (one thread reading the GPU's nanosecond timer), so that work the CPU queues
// behind it meanwhile then runs back to back, as it does when a CUDA graph replays it: the GPU time of that work,
// between two events, is then free of the CPU's launch gaps (Native/GpuTimer.cs, used to choose the KAN products'
// plans). Empty on the CPU emulation of the tests, which has no such timer.
extern "C" __global__ void gpu_wait(long long nanoseconds) {
#ifdef __CUDACC_RTC__
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < (unsigned long long)nanoseconds);
#endif
}
