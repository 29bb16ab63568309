using System.CommandLine;

namespace UKan.Cli.Commands;

/// <summary>Every top-level verb, in the order <c>ukan --help</c> lists them.</summary>
static class Registry
{
    public static IEnumerable<Command> All()
    {
        yield return DemoCommand.Create();
        yield return InfoCommand.Create();
        yield return ModelCommand.Create();
        yield return BenchCommand.Create();
        yield return SelfTestCommand.Create();
        yield return DataCommand.Create();
        yield return TrainCommand.Create();
        yield return SweepCommand.Create();
        yield return EvalCommand.Create();
        yield return PredictCommand.Create();
        yield return DiffusionCommand.Create();
        yield return DiffusionCommand.TopLevelGenerate();
    }
}
