using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Plots;

/// <summary>One learned edge function sampled on a range of inputs: φ = base + spline at every x.</summary>
/// <param name="Input">Input index i (for a KAonv: the input channel), or −1 for a shared activation ψ itself.</param>
/// <param name="Output">Output index j (for a KAonv: the output channel), or −1 for ψ itself.</param>
/// <param name="Rank">1 for the edge with the largest L1 in its layer; 0 for ψ itself.</param>
/// <param name="L1">Mean |φ_ij(x_i)| over the recorded (or uniform) inputs x_i of input i.</param>
public sealed record EdgeCurve(int Input, int Output, int Rank, double L1, double[] X, double[] Phi, double[] Base, double[] Spline);

/// <summary>The most important edges of one layer (or the curve of one shared activation).</summary>
/// <param name="Layer">The module's name in the model (state-dict prefix).</param>
/// <param name="Kind">kan-linear, ka-linear, ka-conv (taps of a kernel summed) or psi.</param>
/// <param name="Edges">Total edges of the layer (the plotted ones are the first by L1).</param>
public sealed record LayerActivations(string Layer, string Kind, long Edges, IReadOnlyList<EdgeCurve> Curves);

/// <summary>
/// The learned univariate functions of a trained KAN model, as pykan draws them (Liu et al., "KAN", 2024, Fig. 2.1 and
/// <c>KAN.plot</c>): for every KANLinear, φ_ij(x) = W_b[j,i]·SiLU(x) + Σ_k W_s[j,i,k]·scaler[j,i]·B_k(x) (the
/// standalone spline scaler of efficient-kan's <c>enable_standalone_scale_spline</c>, on in U-KAN's
/// <c>Seg_UKAN/kan.py</c>), evaluated by the layer's own <see cref="KanLinear.EdgeTerms"/>; for ALL U-KAN, each shared
/// activation ψ (<see cref="SharedActivation.Terms"/>) and the edge functions λ_qp·ψ of its KA and KAonv layers.
/// </summary>
/// <remarks>
/// Edges are ranked by the L1 norm of φ_ij over the distribution of its input: mean_r |φ_ij(x_ri)| over the inputs
/// x the layer saw on the given images (recorded by forward pre-hooks), which measures how much the edge contributes
/// to the output on real data; pykan ranks by the same quantity (its <c>attribute</c>/<c>prune</c> scores start from
/// the L1 of each activation over a batch). Without images the inputs are a uniform sample of the grid range. A KAonv
/// edge c → o carries one λ per kernel tap; it is drawn as (Σ_taps λ)·ψ, the response to a constant input patch,
/// exact for 1×1 convolutions, and ranked by |Σ_taps λ|·mean|ψ(x_c)|.
/// </remarks>
public static class KanActivations
{
    /// <summary>Recorded inputs kept per layer (evenly spaced rows); enough for a stable mean at small cost.</summary>
    public const int MaxRows = 4096;
    /// <summary>Points per curve.</summary>
    public const int Points = 201;
    /// <summary>The plotted range extends the grid's by this fraction of its width on each side.</summary>
    public const double Margin = 0.2;

    /// <summary>The layers with learned activations, by module name (shared ψ listed once, under its first name).</summary>
    public static IReadOnlyList<(string Name, nn.Module Module)> Layers(nn.Module model)
    {
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        var result = new List<(string, nn.Module)>();
        foreach (var (name, m) in model.named_modules())
            if (m is KanLinear or KaLinear or KaConv2d or SharedActivation && seen.Add(m)) result.Add((name, m));
        return result;
    }

    /// <summary>
    /// Calls <paramref name="forwardPasses"/> (which runs the model, e.g. through <see cref="UKan.Evaluation.Inference"/>)
    /// and keeps, for each given layer, up to <see cref="MaxRows"/> of the input rows it saw (tokens for linear layers,
    /// pixels for convolutions), evenly spaced. Shared activations record nothing (their curve needs no ranking).
    /// </summary>
    public static Dictionary<string, Tensor> RecordInputs(IReadOnlyList<(string Name, nn.Module Module)> layers, Action forwardPasses)
    {
        var seen = layers.Where(l => l.Module is not SharedActivation).ToDictionary(l => l.Name, _ => new List<Tensor>());
        var handles = new List<Action>();
        foreach (var (name, m) in layers)
        {
            var list = seen.GetValueOrDefault(name);
            if (list is null) continue;
            var module = (nn.Module<Tensor, Tensor>)m;
            var hook = module.register_forward_pre_hook((_, x) =>
            {
                using (no_grad()) list.Add(Thin(Rows(m, x), MaxRows).detach().DetachFromDisposeScope());
                return x;
            });
            handles.Add(hook.remove);
        }
        try { forwardPasses(); }
        finally { foreach (var remove in handles) remove(); }
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, list) in seen)
        {
            if (list.Count == 0) continue;
            using var all = cat(list, 0);
            result[name] = Thin(all, MaxRows).clone();
            foreach (var t in list) t.Dispose();
        }
        return result;
    }

    /// <summary>A uniform sample of each input's grid range, in place of recorded inputs (no images given).</summary>
    public static Tensor UniformInputs(nn.Module layer, int rows = 1024)
    {
        var (lo, hi) = GridRange(layer);
        var device = DeviceOf(layer);
        return linspace(lo, hi, rows, device: device).unsqueeze(1).expand(rows, InputsOf(layer)).contiguous();
    }

    /// <summary>
    /// The <paramref name="top"/> edges of a layer by L1 over <paramref name="inputs"/> (rows, inputs), each with its
    /// curve over the grid range; for a shared activation its one curve.
    /// </summary>
    public static LayerActivations Analyse(string name, nn.Module layer, Tensor? inputs, int top)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (lo, hi) = GridRange(layer);
        double margin = Margin * (hi - lo);
        var xs = linspace(lo - margin, hi + margin, Points, device: DeviceOf(layer));
        if (layer is SharedActivation psi)
        {
            var (b, s) = psi.Terms(xs);
            return new LayerActivations(name, "psi", 0, [Curve(-1, -1, 0, double.NaN, xs, b, s)]);
        }
        inputs ??= UniformInputs(layer);
        var l1 = EdgeL1(layer, inputs);                                      // (in, out)
        long edges = layer is KaConv2d conv ? conv.Weight.shape[0] * conv.Weight.shape[1] : l1.numel();
        var values = l1.flatten().to(ScalarType.Float64).cpu().data<double>().ToArray();
        // Largest L1 first; ties (e.g. edges a KAonv's groups never connect) in index order.
        var order = Enumerable.Range(0, values.Length).OrderByDescending(e => values[e]).ThenBy(e => e).Take(Math.Min(top, (int)edges)).ToArray();
        long outputs = l1.shape[1];
        var curves = new List<EdgeCurve>();
        for (int r = 0; r < order.Length; r++)
        {
            int i = (int)(order[r] / outputs), j = (int)(order[r] % outputs);
            var (b, s) = EdgeCurveTerms(layer, xs, i, j);
            curves.Add(Curve(i, j, r + 1, values[order[r]], xs, b, s));
        }
        return new LayerActivations(name, layer switch { KanLinear => "kan-linear", KaLinear => "ka-linear", _ => "ka-conv" }, edges, curves);
    }

    /// <summary>mean_r |φ_ij(x_ri)| for every edge: (in, out); a KAonv's edges outside its groups are 0.</summary>
    public static Tensor EdgeL1(nn.Module layer, Tensor inputs)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int inCount = InputsOf(layer), outCount = OutputsOf(layer);
        if (layer is KaConv2d conv)
        {
            var (b, s) = conv.Activation.Terms(inputs);
            var meanPsi = (b + s).abs().mean([0L]);                             // (in)
            return (TapSums(conv).abs() * meanPsi.unsqueeze(1)).MoveToOuterDisposeScope();
        }
        Tensor sum = zeros(inCount, outCount, device: inputs.device);
        long rows = inputs.shape[0];
        long chunk = Math.Max(1, (1L << 24) / Math.Max(1L, (long)inCount * outCount));
        for (long r = 0; r < rows; r += chunk)
        {
            using var inner = NewDisposeScope();
            var (b, s) = EdgeTerms(layer, inputs.narrow(0, r, Math.Min(chunk, rows - r)));
            sum = (sum + (b + s).abs().sum([0L])).MoveToOuterDisposeScope();
        }
        return (sum / rows).MoveToOuterDisposeScope();
    }

    /// <summary>The two terms of edge i → j at the points <paramref name="xs"/> (n): (n), (n).</summary>
    static (Tensor Base, Tensor Spline) EdgeCurveTerms(nn.Module layer, Tensor xs, int i, int j)
    {
        if (layer is KaConv2d conv)
        {
            var lambda = TapSums(conv)[i, j];
            var (pb, ps) = conv.Activation.Terms(xs);
            return (pb * lambda, ps * lambda);
        }
        // Every input gets the same column of x; edge (i, j) is read off the (n, in, out) terms.
        var x = xs.unsqueeze(1).expand(xs.shape[0], InputsOf(layer));
        var (b, s) = EdgeTerms(layer, x);
        return (b[.., i, j], s[.., i, j]);
    }

    static (Tensor Base, Tensor Spline) EdgeTerms(nn.Module layer, Tensor x) => layer switch
    {
        KanLinear kan => kan.EdgeTerms(x),
        KaLinear ka => ka.EdgeTerms(x),
        _ => throw new ArgumentException($"no edge functions for {layer.GetType().Name}"),
    };

    /// <summary>Σ over kernel taps of a KAonv's λ, as (in, out) with zeros where groups do not connect.</summary>
    static Tensor TapSums(KaConv2d conv)
    {
        var w = conv.Weight.sum([2L, 3L]);                                   // (out, in/groups)
        long outCount = w.shape[0], perGroup = w.shape[1];
        int groups = conv.Geometry.Groups;
        var full = zeros(perGroup * groups, outCount, device: w.device, dtype: w.dtype);
        long outPerGroup = outCount / groups;
        for (int g = 0; g < groups; g++)
            full.narrow(0, g * perGroup, perGroup).narrow(1, g * outPerGroup, outPerGroup)
                .copy_(w.narrow(0, g * outPerGroup, outPerGroup).T);
        return full;
    }

    /// <summary>The range inside the grid's outer knots: [t_k, t_{G+k}] (for KANLinear: over all inputs).</summary>
    public static (double Lo, double Hi) GridRange(nn.Module layer)
    {
        if (layer is KanLinear kan)
        {
            int k = kan.Options.SplineOrder, g = kan.Options.GridSize;
            using var grid = kan.Grid.detach().cpu().to(ScalarType.Float64);
            using var lo = grid[.., k].min();
            using var hi = grid[.., g + k].max();
            return (lo.item<double>(), hi.item<double>());
        }
        var options = layer switch
        {
            SharedActivation psi => psi.Options,
            KaLinear ka => ka.Activation.Options,
            KaConv2d conv => conv.Activation.Options,
            _ => throw new ArgumentException($"no learned activations in {layer.GetType().Name}"),
        };
        return (options.GridMin, options.GridMax);
    }

    /// <summary>Model inputs as rows of one layer's inputs: (rows, in); channels last for convolutions.</summary>
    static Tensor Rows(nn.Module layer, Tensor x) =>
        layer is KaConv2d ? x.permute(0, 2, 3, 1).reshape(-1, x.shape[1]) : x.reshape(-1, x.shape[^1]);

    static Tensor Thin(Tensor rows, int max) =>
        rows.shape[0] <= max ? rows : rows.index_select(0, linspace(0, rows.shape[0] - 1, max, device: rows.device).to(ScalarType.Int64));

    static int InputsOf(nn.Module layer) => layer switch
    {
        KanLinear kan => kan.InFeatures,
        KaLinear ka => ka.InFeatures,
        KaConv2d conv => (int)(conv.Weight.shape[1] * conv.Geometry.Groups),
        _ => 1,
    };

    static int OutputsOf(nn.Module layer) => layer switch
    {
        KanLinear kan => kan.OutFeatures,
        KaLinear ka => ka.OutFeatures,
        KaConv2d conv => (int)conv.Weight.shape[0],
        _ => 1,
    };

    static Device DeviceOf(nn.Module layer) => layer.parameters().First().device;

    static EdgeCurve Curve(int i, int j, int rank, double l1, Tensor xs, Tensor b, Tensor s)
    {
        static double[] Host(Tensor t) => t.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();
        return new EdgeCurve(i, j, rank, l1, Host(xs), Host(b + s), Host(b), Host(s));
    }
}
