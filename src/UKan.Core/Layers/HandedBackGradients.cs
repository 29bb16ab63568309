using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The gradients crossing a custom autograd function's backward: the one TorchSharp hands in, disposed when backward
/// ends (<see cref="Backward(Tensor?)"/>), and the ones it returns, kept alive until libtorch has taken them, then disposed.
/// </summary>
/// <remarks>
/// TorchSharp (0.107) calls a custom function's backward from the autograd engine through a delegate and hands the
/// returned tensors to libtorch as raw handles (Node&lt;T&gt;.ApplyFunc in dotnet/TorchSharp,
/// src/TorchSharp/AutogradFunction.cs at commit 17f5c653: <c>output.Select(p =&gt; p?.handle)</c>); the native side copies them only after
/// the delegate has returned. Until then nothing else references the managed wrappers, so a garbage collection in that
/// window could finalize one and free the native tensor under libtorch's feet; after the copy the wrappers would only
/// hold (GPU) memory until the collector finds them. So they are kept here and disposed at the next call on the same
/// thread, which comes after the copy. Per thread: a call on another autograd thread (several devices, or two
/// backward passes at once) may come before this thread's copy, so a process-wide list could free gradients that
/// libtorch has not taken yet.
/// <para>The incoming gradient has the opposite problem: TorchSharp wraps it in a new native handle for the call
/// (<c>new Tensor(tensors[i])</c> in the same method) that nothing disposes, so its memory stayed allocated until a
/// garbage collection finalized the wrapper, often several training steps later. A backward must not return the
/// incoming tensor itself as a gradient (a new tensor or a view is fine).</para>
/// </remarks>
public static class HandedBackGradients
{
    [ThreadStatic] static List<Tensor>? kept;

    /// <summary>
    /// The start of a custom function's backward: <see cref="Release"/>, and a scope that disposes
    /// <paramref name="incoming"/>, the gradient TorchSharp handed in, when backward ends (<c>using var _ = ...</c>).
    /// </summary>
    public static IDisposable Backward(Tensor? incoming)
    {
        Release();
        return incoming is null ? Nothing.Instance : incoming;
    }

    /// <summary><see cref="Backward(Tensor?)"/> for a function of several outputs: every gradient handed in (nulls skipped).</summary>
    public static IDisposable Backward(IReadOnlyList<Tensor?> incoming)
    {
        Release();
        return new All(incoming);
    }

    sealed class All(IReadOnlyList<Tensor?> tensors) : IDisposable
    {
        public void Dispose()
        {
            foreach (var t in tensors) t?.Dispose();
        }
    }

    sealed class Nothing : IDisposable
    {
        public static readonly Nothing Instance = new();
        public void Dispose() { }
    }

    /// <summary>Disposes what this thread handed back at its previous call. Call at the start of forward and backward.</summary>
    public static void Release()
    {
        if (kept is null) return;
        foreach (var t in kept) t.Dispose();
        kept.Clear();
    }

    /// <summary>
    /// The end of a custom function's backward: each gradient of <paramref name="gradients"/> (nulls skipped) moved out
    /// of the backward's dispose scope and kept (<see cref="Keep"/>); returns the list.
    /// </summary>
    public static List<Tensor> KeepAll(List<Tensor> gradients)
    {
        foreach (var t in gradients)
            if (t is not null) Keep(t.MoveToOuterDisposeScope());
        return gradients;
    }

    /// <summary>Keeps <paramref name="gradient"/> (detached from any dispose scope) until this thread's next <see cref="Release"/>.</summary>
    public static Tensor Keep(Tensor gradient)
    {
        (kept ??= []).Add(gradient);
        return gradient;
    }
}
