using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace UKan.Native;

/// <summary>
/// Keeps the native memory of every TorchSharp <c>Scalar</c> for a few seconds after it is disposed, so that the
/// garbage collector can no longer free a Scalar while libtorch is still reading it.
/// </summary>
/// <remarks>
/// <para>The defect (TorchSharp 0.107, and its main branch at the time of writing): a <c>Scalar</c> wraps a native
/// <c>c10::Scalar*</c> and frees it in its finalizer. Every tensor-number operation makes one on the fly, and so does
/// TorchSharp itself for an implicit factor of 1 in every tensor addition (<c>a + b</c> is <c>a.add(b, 1)</c>) and in
/// BatchNorm's <c>num_batches_tracked.add_(1)</c>. Once the wrapper's handle has been passed to the native call, the
/// JIT treats the wrapper as dead; a collection triggered by another thread can then run its finalizer while libtorch
/// has not yet read the value. glibc writes its free-list pointers over the first 16 bytes of a freed block, which is
/// exactly the c10::Scalar's tag and value, so the operation reads garbage: an exception from c10's checks ("For
/// integral input tensors, argument alpha must not be a floating point number", "Expected false to be true" in
/// c10::Scalar::toFloat) ended 3 of about 11 CPU training runs of 800 steps on a 2-core machine, and a wrong factor
/// that passes the checks would have changed a result silently.</para>
/// <para>The remedy works for every Scalar, ours and TorchSharp's, without a compiler: TorchSharp frees a Scalar only
/// through the exported function <c>THSTorch_dispose_scalar</c> of its native wrapper. At start-up its first 12 bytes
/// are overwritten, in this process's memory only, with a jump to <see cref="Defer"/>, which queues the pointer and
/// frees the queued ones that are older than <see cref="Delay"/>, as the original did (c10::Scalar's destructor and a
/// sized operator delete of its 32 bytes). The patch is applied only to the machine code this class knows (the function as
/// compiled in TorchSharp 0.107's x64 Linux wrapper, checked byte for byte); anything else leaves the wrapper alone and
/// <see cref="Status"/> says why. <c>UKAN_SCALAR_FREE=immediate</c> turns it off (to measure the difference). The cost
/// is the memory of the Scalars of the last seconds (32 bytes each) and a lock per disposal.</para>
/// </remarks>
public static unsafe class DeferredScalarFree
{
    /// <summary>Set to <c>immediate</c> to leave TorchSharp's Scalar disposal as it is.</summary>
    public const string EnvironmentVariable = "UKAN_SCALAR_FREE";

    /// <summary>How long a disposed Scalar's memory is kept before it is freed.</summary>
    public static TimeSpan Delay { get; } = TimeSpan.FromSeconds(2);

    /// <summary><see cref="Delay"/> in <see cref="Stopwatch"/> ticks, what the queue's times are in.</summary>
    static readonly long delayTicks = (long)(Delay.TotalSeconds * Stopwatch.Frequency);

    /// <summary>The most disposed Scalars kept at once; beyond it the oldest are freed sooner than <see cref="Delay"/>.</summary>
    internal const int MaxPending = 1_000_000;

    /// <summary>What <see cref="Install"/> did, for <c>ukan info</c>: deferred, or why not.</summary>
    public static string Status { get; private set; } = "not installed (torch not started)";

    /// <summary>Whether Scalar frees are deferred in this process.</summary>
    public static bool Active { get; private set; }

    // THSTorch_dispose_scalar in libLibTorchSharp.so of TorchSharp 0.107 (linux-x64), 51 bytes:
    //   if (p == nullptr) return; if (p->tag is SymInt, SymFloat or SymBool && p->v.p != nullptr) reset_not_null(p->v.p);
    //   operator delete(p, 32);
    // The two rel32 displacements (a call and a tail jump through the PLT) are relative to the code, so the bytes are
    // the same wherever the library is loaded.
    static readonly byte[] KnownCode = Convert.FromHexString(
        "4885FF742D8B0783C0FB83F8027719488B47104885C07410534889FB4889C7E86CB5EEFF4889DF5BBE20000000E98E2EEEFFC3");

    const int PatchLength = 12; // movabs rax, imm64; jmp rax
    const int ResetCall = 0x1F, DeleteJump = 0x2D; // offsets of the call and the jmp (opcode, then rel32)
    const int ScalarSize = 32;

    static readonly object gate = new();
    static readonly Queue<(IntPtr Scalar, long Time)> queue = new();
    static delegate* unmanaged<IntPtr, nuint, void> operatorDelete;
    static delegate* unmanaged<IntPtr, void> resetNotNull;

    /// <summary>
    /// Installs the deferral into the loaded <c>libLibTorchSharp.so</c> (<paramref name="libTorchSharp"/>, a handle from
    /// NativeLibrary.Load). Must run before the first Scalar is made, i.e. before any other torch call; later calls do nothing.
    /// </summary>
    public static void Install(IntPtr libTorchSharp)
    {
        if (Active) return;
        if (TurnedOff(Environment.GetEnvironmentVariable(EnvironmentVariable)))
        {
            Status = $"immediate ({EnvironmentVariable}=immediate)";
            return;
        }
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            Status = "immediate (the deferral is written for x64 Linux)";
            return;
        }
        if (!NativeLibrary.TryGetExport(libTorchSharp, "THSTorch_dispose_scalar", out var dispose))
        {
            Status = "immediate (THSTorch_dispose_scalar not found)";
            return;
        }
        if (!new ReadOnlySpan<byte>((void*)dispose, KnownCode.Length).SequenceEqual(KnownCode))
        {
            Status = "immediate (THSTorch_dispose_scalar is not the TorchSharp 0.107 build this deferral knows)";
            return;
        }
        // The original's two callees, from its own (verified) rel32 operands: c10's intrusive_ptr reset is a local
        // function of the wrapper, operator delete is reached through the wrapper's PLT.
        resetNotNull = (delegate* unmanaged<IntPtr, void>)RelativeTarget(dispose, ResetCall);
        operatorDelete = (delegate* unmanaged<IntPtr, nuint, void>)RelativeTarget(dispose, DeleteJump);
        delegate* unmanaged<IntPtr, void> target = &Defer;

        long page = Environment.SystemPageSize;
        long start = (long)dispose & ~(page - 1);
        long length = (long)dispose + PatchLength - start;
        if (mprotect((IntPtr)start, (nuint)length, ProtRead | ProtWrite | ProtExec) != 0)
        {
            Status = $"immediate (mprotect refused to make the code writable: errno {Marshal.GetLastPInvokeError()})";
            return;
        }
        var code = new Span<byte>((void*)dispose, PatchLength);
        code[0] = 0x48; code[1] = 0xB8;                         // movabs rax, target
        Unsafe.WriteUnaligned(ref code[2], (ulong)target);
        code[10] = 0xFF; code[11] = 0xE0;                       // jmp rax
        mprotect((IntPtr)start, (nuint)length, ProtRead | ProtExec);
        Active = true;
        Status = $"deferred by {Delay.TotalSeconds:0.#} s";
    }

    /// <summary>The target of the rel32 call or jump at <paramref name="instruction"/> bytes into <paramref name="function"/>.</summary>
    static IntPtr RelativeTarget(IntPtr function, int instruction) =>
        function + instruction + 5 + Unsafe.ReadUnaligned<int>((void*)(function + instruction + 1));

    /// <summary>Whether a value of <see cref="EnvironmentVariable"/> asks for TorchSharp's own, immediate frees.</summary>
    internal static bool TurnedOff(string? value) => string.Equals(value?.Trim(), "immediate", StringComparison.OrdinalIgnoreCase);

    /// <summary>Called with each Scalar as its memory is freed (tests).</summary>
    internal static Action<IntPtr>? Freed;

    /// <summary>The patched THSTorch_dispose_scalar: queue the pointer, free what has waited long enough.</summary>
    [UnmanagedCallersOnly]
    static void Defer(IntPtr scalar)
    {
        if (scalar == IntPtr.Zero) return;
        long now = Stopwatch.GetTimestamp();
        lock (gate)
        {
            queue.Enqueue((scalar, now));
            while (queue.Count > 0 && (now - queue.Peek().Time >= delayTicks || queue.Count > MaxPending))
                Free(queue.Dequeue().Scalar);
        }
    }

    /// <summary>What the original function does: c10::Scalar's destructor, then operator delete(p, 32).</summary>
    static void Free(IntPtr scalar)
    {
        Freed?.Invoke(scalar);
        uint tag = *(uint*)scalar;
        // Tags 5, 6, 7 (HAS_si, HAS_sd, HAS_sb) hold a reference-counted symbolic node at offset 16.
        if (tag - 5 <= 2 && *(IntPtr*)(scalar + 16) is var node && node != IntPtr.Zero) resetNotNull(node);
        operatorDelete(scalar, ScalarSize);
    }

    const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;

    [DllImport("libc", SetLastError = true)]
    static extern int mprotect(IntPtr address, nuint length, int protection);
}
