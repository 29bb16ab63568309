using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// Adam (Kingma &amp; Ba 2015) and AdamW (Loshchilov &amp; Hutter 2019) over flat parameter buffers: every group's
/// parameters and gradients are views into one contiguous tensor each, so a step is ~8 element-wise kernels per group
/// instead of ~8 per parameter tensor (U-KAN has ~200 of them: on a GPU the launches, not the arithmetic, would
/// dominate). The flat gradient buffer is also what a data-parallel all-reduce needs.
/// </summary>
/// <remarks>
/// The update is PyTorch's single-tensor Adam: coupled weight decay g += wd·p (Adam) or decoupled p *= 1 − lr·wd
/// (AdamW); m ← m + (1−β1)(g − m); v ← β2 v + (1−β2) g²; p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε).
/// Parameters must be on their final device before construction (moving them afterwards breaks the views).
/// <para>On CUDA a group's step is one kernel (<see cref="IAdamKernels"/>, Native/Kernels/adam.cu: each buffer read and
/// written once) instead of the formulation's ~8 element-wise passes; <see cref="FusedVariable"/>=off runs the
/// formulation, which stays the reference (<c>ukan selftest --device cuda</c> compares the two).</para>
/// <para>Outside backward every parameter's <c>.grad</c> is its view of the flat gradient buffer. Backward can fill the
/// buffer in two ways. Accumulate (<see cref="ZeroGrad"/>, then backward): autograd's AccumulateGrad finds a defined
/// <c>.grad</c> and adds the new gradient into it, one element-wise kernel per parameter (~200 for U-KAN: launches of
/// tiny tensors). Gather (<see cref="ReleaseGrads"/>, backward, <see cref="GatherGrads"/>): with <c>.grad</c>
/// undefined, AccumulateGrad keeps the gradient tensor backward computed (no kernel) when it is laid out like the
/// parameter (dense, same strides; otherwise it keeps a copy so laid out), and one call copies all of them into the
/// buffer, on CUDA in PyTorch's multi-tensor kernel (a few launches), and points every <c>.grad</c> back at its view.
/// Both give the same values (adding into zeros is exact); gathering holds every gradient twice until the copy.
/// Accumulation is what hooks on gradient accumulation need (<see cref="ShouldGather(bool)"/>).</para>
/// Every parameter starts on a 256-byte boundary inside the buffer (<see cref="AlignBytes"/>), as a tensor of its own
/// from PyTorch's CUDA allocator would: cuDNN's batch norm faults ("misaligned address") on a scale or shift that is
/// only 8-byte aligned, which packing ALL U-KAN's 10-scalar ψ parameters back to back produced. The gaps hold zeros
/// with zero gradients, so Adam leaves them at zero.
/// </remarks>
public sealed class FlatAdam : IDisposable
{
    public sealed class Group
    {
        public required GroupSettings Settings { get; init; }
        public required IReadOnlyList<(string Name, Parameter Parameter, long Offset)> Members { get; init; }
        public required Tensor Params { get; init; }
        public required Tensor Grads { get; init; }
        /// <summary>Each member's view of <see cref="Grads"/>, in <see cref="Members"/>' order: its <c>.grad</c> outside backward.</summary>
        public required IReadOnlyList<Tensor> GradViews { get; init; }
        /// <summary>
        /// Per member: whether its slice of <see cref="Grads"/> is known to hold zeros (after <see cref="ZeroGrad"/>, until
        /// a gather writes it), so that a gather zeroes only the slices of members without a gradient that are not zero yet.
        /// </summary>
        internal bool[] KnownZero { get; init; } = [];
        public required Tensor ExpAvg { get; init; }
        public required Tensor ExpAvgSq { get; init; }
        /// <summary>The learning rate used by the next step (schedules set it).</summary>
        public double LearningRate
        {
            get => learningRate;
            set { learningRate = value; LearningRateOnDevice?.fill_(value); }
        }
        double learningRate;
        /// <summary>The learning rate as a device scalar (capturable mode only).</summary>
        public Tensor? LearningRateOnDevice { get; init; }
    }

    public IReadOnlyList<Group> Groups { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public bool Decoupled { get; }
    /// <summary>Whether the last <see cref="Step"/> ran every group through the fused kernel.</summary>
    public bool LastStepFused { get; private set; }
    /// <summary>Steps taken so far (the bias-correction t).</summary>
    public long StepCount { get; private set; }
    /// <summary>
    /// Capturable mode keeps the step count and learning rates in device tensors, so that a step can be recorded in
    /// a CUDA graph and replayed (host scalars would be frozen into the graph).
    /// </summary>
    public bool Capturable { get; }
    readonly Tensor? stepOnDevice;
    bool released;

    /// <summary>off (or 0): backward accumulates into the flat buffer instead of being gathered (to compare the two).</summary>
    public const string GatherVariable = "UKAN_GRAD_GATHER";

    /// <summary>
    /// Whether a training step gathers its gradients (<see cref="ReleaseGrads"/> … <see cref="GatherGrads"/>): yes,
    /// unless something hooks gradient accumulation (the data-parallel all-reduce overlapped with backward reads each
    /// parameter's slice of the flat buffer as soon as its gradient is accumulated) or <see cref="GatherVariable"/> is off.
    /// </summary>
    public static bool ShouldGather(bool accumulationHooked) =>
        ShouldGather(accumulationHooked, Environment.GetEnvironmentVariable(GatherVariable));

    /// <summary><see cref="ShouldGather(bool)"/> with <see cref="GatherVariable"/>'s value given.</summary>
    public static bool ShouldGather(bool accumulationHooked, string? variable) =>
        !accumulationHooked && !EnvironmentSwitch.IsOff(variable);

    /// <summary>Set to <c>off</c> to run the step as the torch formulation on CUDA too instead of the fused kernel (a comparison).</summary>
    public const string FusedVariable = "UKAN_FUSED_ADAM";

    static readonly UKan.Layers.FusedSwitch FusedStep = new(FusedVariable);

    /// <summary>Whether the fused step is switched on (<see cref="FusedVariable"/> is not <c>off</c>).</summary>
    public static bool FusedSwitchedOn => FusedStep.On;

    /// <summary>
    /// <paramref name="body"/>'s result with the calling flow's steps fused or not, whatever the environment says
    /// (comparisons of both in one process).
    /// </summary>
    internal static T WithFused<T>(bool fused, Func<T> body) => FusedStep.With(fused, body);

    /// <summary>Whether the fused kernel takes <paramref name="buffer"/> beside <paramref name="param"/>: contiguous float32 of one length on one device.</summary>
    public static bool FusedTakes(Tensor param, Tensor buffer) =>
        buffer.dtype == ScalarType.Float32 && param.dtype == ScalarType.Float32 && buffer.is_contiguous() && param.is_contiguous()
        && buffer.numel() == param.numel() && buffer.device_type == param.device_type && buffer.device_index == param.device_index;

    /// <summary>The fused kernels for <paramref name="g"/>'s step, or null where the formulation runs.</summary>
    static IAdamKernels? FusedKernels(Group g) =>
        FusedStep.Applies(g.Params) && FusedTakes(g.Params, g.Grads) && FusedTakes(g.Params, g.ExpAvg) && FusedTakes(g.Params, g.ExpAvgSq)
            ? UKan.Layers.FusedSwitch.Kernels(g.Params)
            : null;

    /// <summary>The alignment of every parameter inside its group's buffer (cudaMalloc's own).</summary>
    public const int AlignBytes = 256;

    /// <summary>Where each of <paramref name="sizes"/> starts when every start is aligned to <paramref name="align"/> elements, and the total.</summary>
    public static (long[] Offsets, long Total) Layout(IReadOnlyList<long> sizes, long align)
    {
        var offsets = new long[sizes.Count];
        long offset = 0;
        for (int i = 0; i < sizes.Count; i++)
        {
            offsets[i] = offset;
            offset += (sizes[i] + align - 1) / align * align;
        }
        return (offsets, offset);
    }

    public FlatAdam(IEnumerable<(GroupSettings Settings, IReadOnlyList<(string Name, Parameter Parameter)> Members)> groups,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, bool decoupledWeightDecay = false, bool capturable = false,
        bool channelsLast = false)
    {
        (Beta1, Beta2, Eps, Decoupled, Capturable) = (beta1, beta2, eps, decoupledWeightDecay, capturable);
        var built = new List<Group>();
        using var _ = no_grad();
        foreach (var (settings, members) in groups)
        {
            var first = members[0].Parameter;
            var (offsets, total) = Layout(members.Select(m => m.Parameter.numel()).ToList(), Math.Max(1, AlignBytes / first.ElementSize));
            var flat = zeros(total, dtype: first.dtype, device: first.device);
            var grads = zeros(total, dtype: first.dtype, device: first.device);
            var placed = new List<(string, Parameter, long)>();
            var views = new List<Tensor>();
            for (int i = 0; i < members.Count; i++)
            {
                var (name, p) = members[i];
                if (p.device_type != first.device_type || p.device_index != first.device_index || p.dtype != first.dtype)
                    throw new InvalidOperationException($"parameter {name} is on {p.device}/{p.dtype}, the group on {first.device}/{first.dtype}");
                long n = p.numel();
                var view = Place(flat.narrow(0, offsets[i], n), p.shape, channelsLast);
                view.copy_(p);
                p.set_(view);                                    // the parameter now lives inside the flat buffer
                views.Add(Place(grads.narrow(0, offsets[i], n), p.shape, channelsLast));
                p.grad = views[^1];
                placed.Add((name, p, offsets[i]));
            }
            built.Add(new Group
            {
                Settings = settings, Members = placed, Params = flat, Grads = grads, GradViews = views, KnownZero = [.. placed.Select(_ => true)],
                ExpAvg = zeros_like(flat), ExpAvgSq = zeros_like(flat),
                LearningRateOnDevice = capturable ? tensor(settings.LearningRate, dtype: flat.dtype, device: flat.device) : null,
                LearningRate = settings.LearningRate,
            });
        }
        Groups = built;
        if (capturable && built.Count > 0) stepOnDevice = zeros(1, dtype: built[0].Params.dtype, device: built[0].Params.device);
    }

    /// <summary>
    /// A parameter's view of its slice: in its own shape, or for 4-D (convolution) weights with channelsLast, laid out
    /// (out, kh, kw, in) and viewed back as (out, in, kh, kw), the strides of torch's channels_last format, which makes
    /// cuDNN choose NHWC kernels (measured with <c>bench --layout</c>, docs/results.md §2b).
    /// </summary>
    static Tensor Place(Tensor slice, long[] shape, bool channelsLast) =>
        channelsLast && shape.Length == 4
            ? slice.view(shape[0], shape[2], shape[3], shape[1]).permute(0, 3, 1, 2)
            : slice.view(shape);

    /// <summary>Zeroes every gradient in place (one kernel per group): the next backward accumulates into them.</summary>
    public void ZeroGrad()
    {
        foreach (var g in Groups)
        {
            g.Grads.zero_();
            Array.Fill(g.KnownZero, true);
        }
    }

    /// <summary>
    /// Call after writing into <see cref="Group.Grads"/> other than through this class (the data-parallel all-reduce):
    /// the next <see cref="ReleaseGrads"/> zeroes the whole buffers again, gaps included.
    /// </summary>
    internal void GradsWrittenElsewhere() => writtenElsewhere = true;

    bool writtenElsewhere;

    /// <summary>
    /// Before a backward pass to be gathered: leaves every parameter's <c>.grad</c> undefined (host-only, nothing is
    /// launched). The buffers are not zeroed (unless <see cref="GradsWrittenElsewhere"/> was called): the gather
    /// overwrites the slice of every parameter that gets a gradient and zeroes those of the others that a previous
    /// gather wrote (the gaps between slices hold zeros from the start; gradient clipping scales zeros to zeros). That
    /// saves a pass over every gradient each step (two launches in a replayed U-KAN step).
    /// </summary>
    public void ReleaseGrads()
    {
        if (writtenElsewhere) ZeroGrad();
        writtenElsewhere = false;
        foreach (var g in Groups)
            foreach (var m in g.Members) m.Parameter.grad = null;
        if (DirectSwitch.On)
            DirectGradients.Open(Groups.SelectMany(g => g.Members.Select((m, i) => ((Tensor)m.Parameter, g.GradViews[i]))));
        released = true;
    }

    /// <summary>
    /// Set to <c>off</c> to have every gradient of a gathered backward returned to autograd and copied by the gather,
    /// instead of the nodes that can (KANLinear's weights) writing theirs into the flat buffer (<see cref="DirectGradients"/>).
    /// </summary>
    public const string DirectVariable = "UKAN_DIRECT_GRADIENTS";

    static readonly FusedSwitch DirectSwitch = new(DirectVariable);

    /// <summary><paramref name="body"/>'s result with direct gradients on or off for the calling flow, whatever the environment says.</summary>
    internal static T WithDirectGradients<T>(bool on, Func<T> body) => DirectSwitch.With(on, body);

    /// <summary>
    /// After the backward pass that followed <see cref="ReleaseGrads"/>: copies every gradient it produced into its
    /// slice of the flat buffer (adds it where a node wrote the parameter's gradient there already) and points every
    /// <c>.grad</c> back at its slice (the gradients backward allocated are then freed). Does nothing when the
    /// gradients were not released.
    /// </summary>
    public void GatherGrads()
    {
        if (!released) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var pairs = new List<(Tensor View, Tensor Flat, Tensor Grad)>();
        foreach (var g in Groups)
            for (int i = 0; i < g.Members.Count; i++)
            {
                var (_, p, offset) = g.Members[i];
                bool written = DirectGradients.Close(p);
                if (written && p.grad is { } more) g.GradViews[i].add_(more);   // a second gradient of the same backward
                else if (p.grad is { } grad) pairs.Add((g.GradViews[i], g.Grads.narrow(0, offset, p.numel()), grad));
                else if (!written && !g.KnownZero[i]) g.GradViews[i].zero_();
                g.KnownZero[i] = !written && p.grad is null;
                p.grad = g.GradViews[i];
            }
        released = false;
        CopyAll(pairs);
    }

    /// <summary>
    /// view.copy_(grad) for every pair: on CUDA with the libtorch shim, the pairs whose gradient has the memory order of
    /// its view (what AccumulateGrad's layout contract gives) as 1-D runs of the flat buffer in torch._foreach_copy_'s
    /// few launches (its fast path needs equal strides, which 1-D dense runs have even where a size-1 dimension's stride
    /// differs, as for depth-wise (C, 1, 3, 3) weights); the rest, and everything elsewhere (where launches cost nothing),
    /// one copy_ each.
    /// </summary>
    static void CopyAll(List<(Tensor View, Tensor Flat, Tensor Grad)> pairs)
    {
        bool multiTensor = pairs.Count > 1 && pairs[0].View.device_type == DeviceType.CUDA && UKan.Native.TorchCudaShim.Available;
        var batched = new List<(Tensor Flat, Tensor Grad)>();
        foreach (var (view, flat, grad) in pairs)
            if (multiTensor && UKan.Layers.TensorLayout.SameMemoryOrder(view, grad))
                batched.Add((flat, AsRun(grad)));
            else view.copy_(grad);
        if (batched.Count > 0)
            UKan.Native.TorchCudaShim.ForeachCopy([.. batched.Select(p => p.Flat.Handle)], [.. batched.Select(p => p.Grad.Handle)]);
    }

    /// <summary>A tensor whose elements fill numel consecutive places from its storage offset, as that 1-D run.</summary>
    public static Tensor AsRun(Tensor dense) => dense.as_strided([dense.numel()], [1L], dense.storage_offset());

    public void Step()
    {
        if (released)
            throw new InvalidOperationException("the gradients were released for backward but not gathered (call GatherGrads after backward)");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        StepCount++;
        var t = Capturable ? stepOnDevice!.add_(1) : null;
        var formulation = new List<Group>();
        foreach (var g in Groups)
            if (FusedKernels(g) is { } kernels)
                kernels.AdamStep(g.Params, g.Grads, g.ExpAvg, g.ExpAvgSq, g.LearningRateOnDevice, g.LearningRate, t, StepCount,
                    Beta1, Beta2, Eps, g.Settings.WeightDecay, Decoupled);
            else formulation.Add(g);
        LastStepFused = formulation.Count == 0;
        if (formulation.Count == 0) return;
        if (Capturable)
        {
            // Every step-dependent scalar is computed on the device from the step counter (graph-replayable).
            var bias1 = 1 - (t! * Math.Log(Beta1)).exp();
            var bias2Sqrt = (1 - (t! * Math.Log(Beta2)).exp()).sqrt();
            foreach (var g in formulation)
            {
                var lr = g.LearningRateOnDevice!;
                var denom = Moments(g, decayed => decayed.mul_(1 - lr * g.Settings.WeightDecay)).div_(bias2Sqrt).add_(Eps);
                g.Params.sub_(g.ExpAvg.div(denom).mul_(lr / bias1));
            }
            return;
        }
        double b1 = 1 - Math.Pow(Beta1, StepCount), b2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, StepCount));
        foreach (var g in formulation)
        {
            double lr = g.LearningRate;
            var denom = Moments(g, decayed => decayed.mul_(1 - lr * g.Settings.WeightDecay)).div_(b2Sqrt).add_(Eps);
            g.Params.addcdiv_(g.ExpAvg, denom, value: -lr / b1);
        }
    }

    /// <summary>
    /// Weight decay (decoupled through <paramref name="decoupledDecay"/>, or coupled into the gradient) and the moment
    /// updates; returns √v, the start of the denominator.
    /// </summary>
    Tensor Moments(Group g, Action<Tensor> decoupledDecay)
    {
        double wd = g.Settings.WeightDecay;
        var grad = g.Grads;
        if (wd != 0)
        {
            if (Decoupled) decoupledDecay(g.Params);
            else grad = grad.add(g.Params, alpha: wd);
        }
        g.ExpAvg.lerp_(grad, 1 - Beta1);
        g.ExpAvgSq.mul_(Beta2).addcmul_(grad, grad, value: 1 - Beta2);
        return g.ExpAvgSq.sqrt();
    }

    /// <summary>The L2 norm of all gradients; scales them down to <paramref name="maxNorm"/> when above (clip_grad_norm_).</summary>
    public double ClipGradNorm(double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var total = stack(Groups.Select(g => g.Grads.norm()).ToArray()).norm().item<float>();
        var coef = maxNorm / (total + 1e-6);
        if (coef < 1) foreach (var g in Groups) g.Grads.mul_(coef);
        return total;
    }

    /// <summary>Optimizer state as named tensors (for checkpoints): optimizer.&lt;group&gt;.exp_avg / exp_avg_sq.</summary>
    public IEnumerable<(string Name, Tensor Value)> StateTensors()
    {
        foreach (var g in Groups)
        {
            yield return ($"optimizer.{g.Settings.Name}.exp_avg", g.ExpAvg);
            yield return ($"optimizer.{g.Settings.Name}.exp_avg_sq", g.ExpAvgSq);
        }
    }

    /// <summary>Restores state written by <see cref="StateTensors"/>; shapes must match the current groups.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> tensors, long stepCount)
    {
        using var _ = no_grad();
        foreach (var g in Groups)
            foreach (var (name, value) in new[] { ($"optimizer.{g.Settings.Name}.exp_avg", g.ExpAvg), ($"optimizer.{g.Settings.Name}.exp_avg_sq", g.ExpAvgSq) })
            {
                if (!tensors.TryGetValue(name, out var saved))
                    throw new UserError($"the checkpoint has no optimizer state '{name}'; it was not written by this version's trainer, so it cannot be resumed (start a new run with --weights instead).");
                long packed = g.Members.Sum(m => m.Parameter.numel());
                if (saved.shape.SequenceEqual(value.shape))
                    value.copy_(saved);
                else if (saved.dim() == 1 && saved.shape[0] == packed)
                {
                    // Written before parameters were aligned: the same order, back to back.
                    long from = 0;
                    foreach (var (_, p, offset) in g.Members)
                    {
                        value.narrow(0, offset, p.numel()).copy_(saved.narrow(0, from, p.numel()));
                        from += p.numel();
                    }
                }
                else
                    throw new UserError($"optimizer state '{name}' has {saved.numel()} values, the model {packed}: the checkpoint belongs to another model configuration.");
            }
        StepCount = stepCount;
        stepOnDevice?.fill_(stepCount);
    }

    public void Dispose()
    {
        foreach (var g in Groups)
            foreach (var m in g.Members) DirectGradients.Close(m.Parameter);
        foreach (var g in Groups) { g.ExpAvg.Dispose(); g.ExpAvgSq.Dispose(); g.LearningRateOnDevice?.Dispose(); }
        stepOnDevice?.Dispose();
    }
}
