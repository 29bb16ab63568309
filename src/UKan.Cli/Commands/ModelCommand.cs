using System.CommandLine;
using UKan.Models;

namespace UKan.Cli.Commands;

/// <summary><c>ukan model summary</c>: parameters per module and multiply-accumulates for an input size.</summary>
static class ModelCommand
{
    public static Command Create()
    {
        var command = new Command("model", "Inspect model architectures.");
        var summary = new Command("summary", "Parameters per module and multiply-accumulates (MACs) for an input size.");
        var options = new ModelOptions();
        options.AddTo(summary);
        var size = new Option<int>("--size") { Description = "Input height and width (multiple of 32).", DefaultValueFactory = _ => 256 };
        summary.Options.Add(size);
        summary.SetAction(parsed =>
        {
            CommandLine.StartTorch(parsed);
            var spec = options.Resolve(parsed);
            int s = parsed.GetValue(size);
            if (s is <= 0 or > 65_536 || s % 32 != 0) throw new UserError($"--size {s}: must be a positive multiple of 32 up to 65536.");
            var model = ModelFactory.Create(spec);
            var (rows, parameters, macs) = ModelSummary.Run(model, spec.InChannels, s, s);
            var table = new TextTable("module", "type", "parameters", "GMACs");
            foreach (var r in rows)
                table.Add(r.Module, r.Type, r.Parameters.ToString("N0"), (r.Macs / 1e9).ToString("F3"));
            table.Add("total", "", parameters.ToString("N0"), (macs / 1e9).ToString("F3"));
            Console.WriteLine($"{spec.Describe()}, input {spec.InChannels}×{s}×{s}");
            Console.Write(table);
            Console.WriteLine($"parameters: {parameters:N0}  MACs: {macs / 1e9:F2} G (convolutions and linear maps, incl. KANLinear's 9 products per edge)");
            return 0;
        });
        command.Subcommands.Add(summary);
        return command;
    }
}
