// U-KAN's BCE + Dice loss (Losses/BceDiceLoss.cs) and its gradient in three launches: per-block partial sums, their
// merge into the loss, and dL/dlogits, instead of PyTorch's ~12 forward and ~25 backward kernels for the formula.
// Per image b (its E = C*H*W values), with p = sigmoid(x): S_pt = sum p t, S_p = sum p, S_t = sum t; over all values
// the BCE-with-logits sum. loss = w * BCE_sum / (N E) + 1 - (1/N) sum_b (2 S_pt + s) / (S_p + S_t + s).
// Launch geometry: grid (G, N) blocks of 256 threads, blockIdx.y the image; the reductions run thread -> block
// (shared memory, fixed order) -> image (double, fixed order): the same input gives the same bits every run.

// BCE with logits of one value, as PyTorch computes it: (1 - t) x + m + log(exp(-m) + exp(-x - m)), m = max(-x, 0).
__device__ __forceinline__ float bce_with_logits(float x, float t) {
    float m = fmaxf(-x, 0.0f);
    return (1.0f - t) * x + m + logf(expf(-m) + expf(-x - m));
}

__device__ __forceinline__ float sigmoid_of(float x) { return 1.0f / (1.0f + expf(-x)); }

// Pass 1: partial[((b * G) + g) * 4 + {0: BCE, 1: p t, 2: p, 3: t}] over the values of image b that block g strides.
extern "C" __global__ void bce_dice_partials(const float* __restrict__ x, const float* __restrict__ t, long long per_image,
                                             float* __restrict__ partial) {
    __shared__ float s[4][256];
    long long base = (long long)blockIdx.y * per_image;
    float bce = 0.0f, pt = 0.0f, ps = 0.0f, ts = 0.0f;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < per_image; i += (long long)gridDim.x * blockDim.x) {
        float xv = x[base + i], tv = t[base + i], p = sigmoid_of(xv);
        bce += bce_with_logits(xv, tv);
        pt = fmaf(p, tv, pt);
        ps += p;
        ts += tv;
    }
    s[0][threadIdx.x] = bce; s[1][threadIdx.x] = pt; s[2][threadIdx.x] = ps; s[3][threadIdx.x] = ts;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half)
            for (int k = 0; k < 4; ++k) s[k][threadIdx.x] += s[k][threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x < 4) partial[((long long)blockIdx.y * gridDim.x + blockIdx.x) * 4 + threadIdx.x] = s[threadIdx.x][0];
}

// Pass 2, one block: thread b < N merges image b's G partials in double (in order), keeps its three sums for the
// backward in sums[b * 3 + {0: S_pt, 1: S_p, 2: S_t}] and its Dice and BCE sum for thread 0, which writes the loss.
extern "C" __global__ void bce_dice_finalize(const float* __restrict__ partial, int N, int G, double count, double bce_weight,
                                             double smooth, float* __restrict__ loss, float* __restrict__ sums) {
    __shared__ double dice[1024], bce[1024];
    int b = threadIdx.x;
    if (b < N) {
        double s[4] = {0.0, 0.0, 0.0, 0.0};
        for (int g = 0; g < G; ++g)
            for (int k = 0; k < 4; ++k) s[k] += partial[((long long)b * G + g) * 4 + k];
        sums[b * 3] = (float)s[1];
        sums[b * 3 + 1] = (float)s[2];
        sums[b * 3 + 2] = (float)s[3];
        dice[b] = (2.0 * s[1] + smooth) / (s[2] + s[3] + smooth);
        bce[b] = s[0];
    }
    __syncthreads();
    if (threadIdx.x != 0) return;
    double dice_sum = 0.0, bce_sum = 0.0;
    for (int i = 0; i < N; ++i) { dice_sum += dice[i]; bce_sum += bce[i]; }
    loss[0] = (float)(bce_weight * bce_sum / count + 1.0 - dice_sum / N);
}

// dL/dx = g * (w (p - t) / (N E) - (1/N) (2 t D - (2 S_pt + s)) / D^2 * p (1 - p)), D = S_p + S_t + s, with g the
// incoming gradient of the loss (a device scalar). Grid (chunks, N): blockIdx.y the image.
extern "C" __global__ void bce_dice_backward(const float* __restrict__ x, const float* __restrict__ t, const float* __restrict__ sums,
                                             const float* __restrict__ grad_loss, long long per_image, int N, double bce_weight,
                                             double smooth, float* __restrict__ dx) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= per_image) return;
    int b = blockIdx.y;
    float g = grad_loss[0];
    float d = sums[b * 3 + 1] + sums[b * 3 + 2] + (float)smooth, num = 2.0f * sums[b * 3] + (float)smooth;
    float bce_scale = (float)(bce_weight / ((double)N * (double)per_image)), dice_scale = 1.0f / ((float)N * d * d);
    long long at = (long long)b * per_image + i;
    float xv = x[at], tv = t[at], p = sigmoid_of(xv);
    dx[at] = g * (bce_scale * (p - tv) - dice_scale * (2.0f * tv * d - num) * p * (1.0f - p));
}
