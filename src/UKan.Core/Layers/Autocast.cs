namespace UKan.Layers;

/// <summary>
/// Whether CUDA autocast to bfloat16 is on for the calling thread, as the runtime set it (libtorch keeps the switch per
/// thread, and so does this mirror). Autocast casts the inputs of the operations it knows; our own autograd functions
/// are not among them, so they read this to store what feeds a bf16 product in bf16 themselves
/// (<see cref="KanLinearFunction"/>) instead of handing autocast a float32 matrix to cast.
/// </summary>
public static class Autocast
{
    [ThreadStatic] static bool bf16;

    /// <summary>True between the runtime's turning bf16 autocast on and off on this thread.</summary>
    public static bool Bf16
    {
        get => bf16;
        internal set => bf16 = value;
    }
}
