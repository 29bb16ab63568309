using System.Diagnostics;

namespace UKan.Training;

/// <summary>Times one phase of a <see cref="TrainingProfile"/> until disposed.</summary>
public readonly struct PhaseTimer : IDisposable
{
    readonly TrainingProfile profile;
    readonly string name;
    readonly Stopwatch clock;

    internal PhaseTimer(TrainingProfile profile, string name) => (this.profile, this.name, clock) = (profile, name, Stopwatch.StartNew());

    public void Dispose() => profile.End(name, clock);
}
