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
        yield return CompareCommand.Create();
        yield return CvCommand.Create();
        yield return PredictCommand.Create();
        yield return PlotCommand.Create();
        yield return ServeCommand.Create();
        yield return ExportCommand.Create();
        yield return DiffusionCommand.Create();
        yield return DiffusionCommand.TopLevelGenerate();
    }
}
