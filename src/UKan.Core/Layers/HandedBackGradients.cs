using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// Keeps the gradients a custom autograd function returns alive until libtorch has taken them, then disposes them.
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
/// </remarks>
public static class HandedBackGradients
{
    [ThreadStatic] static List<Tensor>? kept;

    /// <summary>Disposes what this thread handed back at its previous call. Call at the start of forward and backward.</summary>
    public static void Release()
    {
        if (kept is null) return;
        foreach (var t in kept) t.Dispose();
        kept.Clear();
    }

    /// <summary>Keeps <paramref name="gradient"/> (detached from any dispose scope) until this thread's next <see cref="Release"/>.</summary>
    public static Tensor Keep(Tensor gradient)
    {
        (kept ??= []).Add(gradient);
        return gradient;
    }
}
