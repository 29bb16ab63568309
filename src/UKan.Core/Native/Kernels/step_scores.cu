// The training step's running scores in one launch (Training/StepScores.cs): the batch's pooled IoU, as the official
// training loop logs it (CUHK-AIM-Group/U-KAN @ b20bf63, Seg_UKAN/metrics.py `iou_score`: (|P ∩ G| + s) / (|P ∪ G| + s)
// over all pixels of the batch, P = logits > 0, G = target > 0.5), added to iou_sum, and the batch's loss copied to
// last_loss and added to loss_sum, all on the device so that nothing waits for the GPU inside an epoch. PyTorch's
// operations for the same take 15 launches (two comparisons, and / or, casts, two sums, the division, the adds).
//
// Each block counts its values of P ∩ G and P ∪ G (integers: the atomics that add them into counts[0], counts[1] are
// exact, so the result does not depend on the order), then the last block to finish (counts[2] counts the finished
// blocks) forms the IoU in float as the operations do ((float)|P ∩ G| + s) / ((float)|P ∪ G| + s), updates the sums and
// sets counts back to zero for the next step (the launch replays in a CUDA graph with the same buffer). Block: 256
// threads (the shared array).
extern "C" __global__ void train_step_scores(const float* __restrict__ logits, const float* __restrict__ target, long long n,
                                             const float* __restrict__ loss, float smooth, float* __restrict__ last_loss,
                                             float* __restrict__ loss_sum, float* __restrict__ iou_sum,
                                             unsigned long long* __restrict__ counts) {
    __shared__ unsigned long long both[2][256];
    unsigned long long inter = 0, uni = 0;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        bool p = logits[i] > 0.0f, g = target[i] > 0.5f;
        inter += (p && g) ? 1ull : 0ull;
        uni += (p || g) ? 1ull : 0ull;
    }
    both[0][threadIdx.x] = inter;
    both[1][threadIdx.x] = uni;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half) {
            both[0][threadIdx.x] += both[0][threadIdx.x + half];
            both[1][threadIdx.x] += both[1][threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x != 0) return;
    atomicAdd(&counts[0], both[0][0]);
    atomicAdd(&counts[1], both[1][0]);
    __threadfence();                                         // the counts are visible before this block reports done
    if (atomicAdd(&counts[2], 1ull) != gridDim.x - 1) return;
    __threadfence();
    unsigned long long i_all = atomicAdd(&counts[0], 0ull), u_all = atomicAdd(&counts[1], 0ull);
    float iou = ((float)i_all + smooth) / ((float)u_all + smooth);
    float l = loss[0];
    last_loss[0] = l;
    loss_sum[0] += l;
    iou_sum[0] += iou;
    counts[0] = 0ull;
    counts[1] = 0ull;
    counts[2] = 0ull;
}
