using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// Places where a custom autograd node may write a parameter's gradient itself instead of handing it to autograd: the
/// parameter's slice of the optimizer's flat gradient buffer during a gathered backward (<c>FlatAdam.ReleaseGrads</c>
/// opens them, <c>FlatAdam.GatherGrads</c> closes them). A gradient written there needs neither its own allocation nor
/// the gather's copy; for U-KAN's KANLinear weights (<see cref="KanWeight"/>) that is 5.5 of the model's 6.4 million
/// gradients a step.
/// </summary>
/// <remarks>
/// Process-wide, keyed by the parameter object: CUDA's backward runs on autograd's device threads, not the caller's.
/// A node takes a place once (<see cref="Take"/>); a second gradient for the same parameter in the same backward goes to
/// autograd as usual and the gather adds it to the one written. Autograd does not see a gradient written here, so
/// hooks on the parameter do not run for it: the optimizer opens places only where nothing hooks the gradients (the
/// data-parallel all-reduce overlapped with backward accumulates instead of gathering).
/// </remarks>
public static class DirectGradients
{
    sealed class Place(Tensor view)
    {
        public Tensor View { get; } = view;
        public int Taken;
    }

    static readonly ConcurrentDictionary<Tensor, Place> places = new(ReferenceEqualityComparer.Instance);

    /// <summary>Opens a place for each parameter: its gradient's final view (dense, laid out like the parameter).</summary>
    public static void Open(IEnumerable<(Tensor Parameter, Tensor View)> slots)
    {
        foreach (var (p, view) in slots) places[p] = new Place(view);
    }

    /// <summary>
    /// Closes <paramref name="parameter"/>'s place; whether a node wrote its gradient there since <see cref="Open"/>.
    /// </summary>
    public static bool Close(Tensor parameter) => places.TryRemove(parameter, out var place) && place.Taken > 0;

    /// <summary>
    /// For a node about to compute <paramref name="parameter"/>'s gradient: a view (a new handle; the caller disposes
    /// it), contiguous, to write it into; or null where no place is open, the place was taken or its view is not
    /// contiguous (return the gradient to autograd then).
    /// </summary>
    public static Tensor? Take(Tensor? parameter) =>
        parameter is not null && places.TryGetValue(parameter, out var place) && place.View.is_contiguous()
        && Interlocked.Exchange(ref place.Taken, 1) == 0 ? place.View.alias() : null;
}
