using System.Reflection;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// Frees the "output templates" TorchSharp keeps for each call of a custom autograd function. For every output,
/// TorchSharp 0.107 allocates a tensor like it (<c>torch.empty_like</c>, in Node&lt;T&gt;.SaveOutputsInfo of
/// dotnet/TorchSharp, src/TorchSharp/AutogradFunction.cs at v0.107.0, commit c20b6a1c) and keeps it in the node until
/// the graph is freed, only to build zeros for an output that receives no gradient. For our functions, which answer a
/// missing gradient themselves (<c>set_materialize_grads(false)</c>), that is one more activation-sized allocation per
/// call alive from forward to the end of backward: with the fused batch norm + ReLU, one per batch norm of the network.
/// </summary>
/// <remarks>
/// Use: the function's forward calls <see cref="Forward"/> with its context; the caller of <c>apply</c> passes the
/// result through <see cref="Drop"/>, which disposes the templates (reached by reflection: TorchSharp has no API for
/// them; <see cref="Supported"/> says whether this TorchSharp has the fields, and a test fails when an upgrade removes
/// them). A forward must not call another custom function between the two calls (ours do not).
/// The same hand-over serves a tensor that a forward makes and saves for backward (<see cref="SavedIntermediate"/>):
/// TorchSharp takes the saved tensors' references only after forward returns, so the forward cannot dispose its handle
/// itself; <see cref="Drop"/> does, once autograd holds its own reference.
/// </remarks>
public static class OutputTemplates
{
    [ThreadStatic] static autograd.AutogradContext? pending;

    static readonly FieldInfo? Node = typeof(autograd.AutogradContext).GetField("_node", BindingFlags.NonPublic | BindingFlags.Instance);

    /// <summary>The template list's field of each node type (TorchSharp's Node&lt;T&gt;, one per function), looked up once.</summary>
    static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, FieldInfo?> Cache = new();

    /// <summary>Whether this TorchSharp keeps the templates where <see cref="Drop"/> looks for them.</summary>
    public static bool Supported => Node is not null;

    /// <summary>In a custom function's forward: no zeros materialised for a missing gradient, and the node remembered for <see cref="Drop"/>.</summary>
    public static void Forward(autograd.AutogradContext ctx)
    {
        ctx.set_materialize_grads(false);
        pending = ctx;
    }

    [ThreadStatic] static List<Tensor>? intermediates;

    /// <summary>
    /// In a custom function's forward: <paramref name="t"/>, made by the forward and passed to save_for_backward, is
    /// disposed by the <see cref="Drop"/> that follows <c>apply</c> (autograd's saved reference keeps its memory).
    /// </summary>
    public static Tensor SavedIntermediate(Tensor t)
    {
        (intermediates ??= []).Add(t);
        return t;
    }

    /// <summary>
    /// After <c>apply</c>: disposes the templates of the node whose forward ran last on this thread and the handles of
    /// its saved intermediates; returns <paramref name="output"/>.
    /// </summary>
    public static Tensor Drop(Tensor output)
    {
        if (intermediates is { Count: > 0 } made)
        {
            foreach (var t in made) t.Dispose();
            made.Clear();
        }
        var ctx = pending;
        pending = null;
        LastDropped = 0;
        if (ctx is null || Node?.GetValue(ctx) is not { } node) return output;
        var field = Cache.GetOrAdd(node.GetType(), type => type.GetField("_outputCache", BindingFlags.NonPublic | BindingFlags.Instance));
        if (field?.GetValue(node) is List<Tensor> cache)
            for (int i = 0; i < cache.Count; i++)
                if (cache[i] is { } template)
                {
                    template.Dispose();
                    cache[i] = null!;
                    LastDropped++;
                }
        return output;
    }

    /// <summary>How many templates the last <see cref="Drop"/> on this thread disposed (tests).</summary>
    [field: ThreadStatic] internal static int LastDropped { get; private set; }
}
