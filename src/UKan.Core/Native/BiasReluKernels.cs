using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// relu(y + b) in place over a bias-free convolution's output in one pass (Native/Kernels/bias_relu.cu), instead of
/// PyTorch's broadcast bias add and ReLU. The math is that of <see cref="BiasRelu.Torch"/>; <c>ukan selftest --device
/// cuda</c> compares the two.
/// </summary>
public sealed class BiasReluKernels : IBiasReluKernels
{
    /// <summary>The kernels of this family in the CUDA source: channels-last and NCHW, float32 and bfloat16 (name_bf16).</summary>
    public static readonly string[] Functions =
        ["bias_relu_channels_last", "bias_relu_nchw", "bias_relu_channels_last_bf16", "bias_relu_nchw_bf16"];

    /// <summary>Values per vector load where the layout and the address allow one (16 bytes of float32, 8 of bfloat16).</summary>
    internal const int Vector = 4;

    /// <summary>
    /// Most blocks of the channels-last kernel (before rounding up to its stride rule), and of chunks per NCHW plane: a
    /// few times what a large GPU holds at once.
    /// </summary>
    internal const long MaxBlocks = 4096;

    /// <summary>
    /// Units (values or vectors) each thread takes when the map is large enough: the loads the kernel issues together
    /// before its stores (BIAS_RELU_LOADS in bias_relu.cu), so that one pass of its loop covers the map.
    /// </summary>
    const long UnitsPerThread = 4;

    /// <summary>
    /// The launch of one map. Channels-last: the kernel's units (rows·C / Vec), the units per row (Inner = C / Vec), a
    /// one-dimensional grid whose size in threads is a multiple of Inner. NCHW: Inner = the units per plane (H·W / Vec),
    /// grid.x = the N·C planes, grid.y × Block ≥ Inner / <see cref="UnitsPerThread"/>.
    /// </summary>
    internal readonly record struct Launch(bool ChannelsLast, int Vec, long Units, long Inner, int Channels, (uint X, uint Y) Grid, int Block);

    readonly CudaKernelModule module;
    readonly IntPtr channelsLast, nchw, channelsLastBf16, nchwBf16;

    public BiasReluKernels(CudaKernelModule module)
    {
        this.module = module;
        (channelsLast, nchw) = (module.Function("bias_relu_channels_last"), module.Function("bias_relu_nchw"));
        (channelsLastBf16, nchwBf16) = (module.Function("bias_relu_channels_last_bf16"), module.Function("bias_relu_nchw_bf16"));
    }

    public Tensor BiasReluInPlace(Tensor y, Tensor bias)
    {
        var launch = Geometry(y, TensorPointer.Of(y).ToInt64());
        if (bias.numel() != launch.Channels || bias.device_type != y.device_type || bias.device_index != y.device_index)
            throw new ArgumentException($"bias + ReLU kernels: a bias of {launch.Channels} values on the map's device is needed");
        if (launch.Units == 0) return y;
        using var scope = NewDisposeScope();
        var b = bias.dtype == ScalarType.Float32 && bias.is_contiguous() ? bias : bias.to(float32).contiguous();
        bool bf16 = y.dtype == ScalarType.BFloat16;
        if (launch.ChannelsLast)
            module.LaunchOn(bf16 ? channelsLastBf16 : channelsLast, launch.Grid, (launch.Block, 1), 0, Pointer(y), Pointer(b), launch.Units,
                (int)launch.Inner, launch.Vec);
        else
            module.LaunchOn(bf16 ? nchwBf16 : nchw, launch.Grid, (launch.Block, 1), 0, Pointer(y), Pointer(b), launch.Channels,
                (int)launch.Inner, launch.Vec);
        return y;
    }

    /// <summary>
    /// The launch for <paramref name="y"/> whose first value lies at <paramref name="address"/> (its alignment decides
    /// the vector loads): see <see cref="Launch"/>. At most <paramref name="maxBlocks"/> blocks (channels-last, before
    /// rounding up) or chunks per plane (NCHW); the kernels' loops cover the rest. Throws for a map the kernels do not
    /// take or past CUDA's grid limits.
    /// </summary>
    internal static Launch Geometry(Tensor y, long address, long maxBlocks = MaxBlocks)
    {
        if (!BiasRelu.Takes(y))
            throw new ArgumentException("bias + ReLU kernels: y must be a float32 or bfloat16 (N, C, H, W) tensor, dense NCHW or channels-last");
        long n = y.shape[0], c = y.shape[1], hw = y.shape[2] * y.shape[3];
        bool last = TensorLayout.DenseChannelsLast(y)!.Value;
        bool aligned = address % (Vector * y.element_size()) == 0;
        int vec = aligned && (last ? c : hw) % Vector == 0 ? Vector : 1;
        if (c > int.MaxValue || hw > int.MaxValue)
            throw new ArgumentException($"bias + ReLU kernels: {c} channels of {hw} values exceed the kernels' indexing");
        if (last)
        {
            long units = n * hw * c / vec, inner = c / vec;
            long blocks = Math.Clamp((units + Block * UnitsPerThread - 1) / (Block * UnitsPerThread), 1, maxBlocks);
            // The grid's threads a multiple of the units per row, so that each thread keeps one channel (the kernel's loop).
            long multiple = inner / Gcd(inner, Block);
            blocks = (blocks + multiple - 1) / multiple * multiple;
            if (blocks > int.MaxValue) throw new ArgumentException($"bias + ReLU kernels: {c} channels exceed the launch grid");
            return new(true, vec, units, inner, (int)c, ((uint)blocks, 1), Block);
        }
        long planeUnits = hw / vec, planes = n * c;
        int block = (int)Math.Clamp((planeUnits + 31) / 32 * 32, 32, Block);
        long chunks = Math.Clamp((planeUnits + block * UnitsPerThread - 1) / (block * UnitsPerThread), 1, Math.Min(65535, maxBlocks));
        if (planes > int.MaxValue) throw new ArgumentException($"bias + ReLU kernels: {planes} planes exceed the launch grid");
        return new(false, vec, planes * planeUnits, planeUnits, (int)c, ((uint)planes, (uint)chunks), block);
    }

    static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);
}
