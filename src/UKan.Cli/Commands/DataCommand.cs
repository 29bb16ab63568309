using System.CommandLine;
using UKan.Data;

namespace UKan.Cli.Commands;

/// <summary><c>ukan data prepare|check|subset</c>: bring public datasets into the U-KAN layout and check a dataset folder.</summary>
static class DataCommand
{
    /// <summary>
    /// Where prepare, resize and subset stop on Ctrl-C or SIGTERM: after the images being written, removing what they
    /// wrote (the output folder appears only when complete; see FreshFolder).
    /// </summary>
    const string StopBoundary = "image (nothing of the output is kept)";

    public static Command Create()
    {
        var command = new Command("data", "Prepare public datasets in the U-KAN folder layout and check dataset folders.");
        command.Subcommands.Add(Prepare());
        command.Subcommands.Add(Check());
        command.Subcommands.Add(Subset());
        command.Subcommands.Add(Resize());
        return command;
    }

    static Command Prepare()
    {
        var dataset = new Argument<string>("dataset") { Description = "Which dataset the raw folder holds: busi, glas, cvc or kvasir." };
        dataset.AcceptOnlyFromAmong([.. DataPrepare.Datasets]);
        var raw = new Argument<string>("raw") { Description = "The dataset as downloaded (e.g. Dataset_BUSI_with_GT, Warwick QU Dataset, CVC-ClinicDB, Kvasir-SEG)." };
        var output = new Argument<string>("out") { Description = "A new (or empty) folder for images/, masks/0/ and prepare.json." };
        var command = new Command("prepare", "Convert a public dataset's raw layout into images/<id>.png + masks/0/<id>.png (0/255, original resolution, lossless).")
        {
            dataset, raw, output,
        };
        command.SetAction(parsed =>
        {
            using var stop = CommandLine.StopOnCtrlC(StopBoundary);
            DataPrepare.Run(parsed.GetValue(dataset)!, parsed.GetValue(raw)!, parsed.GetValue(output)!, Console.WriteLine, stop.Token);
            return 0;
        });
        return command;
    }

    static Command Check()
    {
        var dir = new Argument<string>("dir") { Description = "The dataset folder (holding images/ and masks/)." };
        var classes = new Option<int>("--classes") { Description = "Number of mask classes: folders masks/0 .. masks/N-1 (label maps: indices 0..N-1).", DefaultValueFactory = _ => 1 };
        var labelMaps = new Option<bool>("--label-maps")
        {
            Description = "The dataset holds label maps in labels/ (class indices, for --loss ce-dice) instead of masks/; the default when it has labels/ and no masks/.",
        };
        var command = new Command("check", "Check a dataset folder and list every problem (exit code 2 when there are errors).") { dir, classes, labelMaps };
        command.SetAction(parsed =>
        {
            var root = parsed.GetValue(dir)!;
            bool labels = parsed.GetValue(labelMaps) || (Directory.Exists(Path.Combine(root, "labels")) && !Directory.Exists(Path.Combine(root, "masks")));
            var report = DataCheck.Run(root, parsed.GetValue(classes), labels);
            foreach (var issue in report.Issues) Console.WriteLine(issue);
            Console.WriteLine(report.Summary);
            if (report.Ok) return 0;
            Console.Error.WriteLine($"ukan: error: {report.ErrorCount} problem(s) in {report.Root} must be fixed before training; see the lines above.");
            return 2;
        });
        return command;
    }

    static Command Resize()
    {
        var source = new Argument<string>("source") { Description = "A prepared dataset folder." };
        var output = new Argument<string>("out") { Description = "A new (or empty) folder for the resized copy." };
        var size = SharedOptions.Size("Size N or HxW (the training size).", "256");
        var quality = new Option<int?>("--jpeg-quality") { Description = "Store images as JPEG of this quality (default: lossless PNG)." };
        var command = new Command("resize", "Copy a dataset at the training size (images bilinear as training resizes, masks nearest; lossless unless --jpeg-quality).")
        {
            source, output, size, quality,
        };
        command.SetAction(parsed =>
        {
            var (h, w) = SharedOptions.ParseSize(parsed.GetValue(size)!);
            var q = parsed.GetValue(quality);
            if (q is < 1 or > 100) throw new UserError($"--jpeg-quality {q}: must be between 1 and 100.");
            using var stop = CommandLine.StopOnCtrlC(StopBoundary);
            var (count, bytes) = DatasetResize.Run(parsed.GetValue(source)!, parsed.GetValue(output)!, h, w, q, stop.Token);
            Console.WriteLine($"wrote {count} samples at {h}x{w} ({bytes / 1048576.0:F1} MiB, images {(q is null ? "PNG (lossless)" : $"JPEG q{q}")}, masks PNG) to {Path.GetFullPath(parsed.GetValue(output)!)}");
            return 0;
        });
        return command;
    }

    static Command Subset()
    {
        var source = new Argument<string>("source") { Description = "A prepared dataset folder." };
        var output = new Argument<string>("out") { Description = "A new (or empty) folder for the subset." };
        var count = new Option<int>("--count") { Description = "How many samples (spread evenly over the sorted ids).", DefaultValueFactory = _ => 48 };
        var maxSide = new Option<int>("--max-side") { Description = "Longest image side in pixels after resizing (aspect kept).", DefaultValueFactory = _ => 320 };
        var quality = new Option<int>("--jpeg-quality") { Description = "JPEG quality of the images (1-100).", DefaultValueFactory = _ => 90 };
        var command = new Command("subset", "Make a small shrunken copy of a prepared dataset (JPEG images, PNG masks), e.g. a demo set.")
        {
            source, output, count, maxSide, quality,
        };
        command.SetAction(parsed =>
        {
            if (parsed.GetValue(count) is var n and (< 1 or > 1_000_000)) throw new UserError($"--count {n}: must be between 1 and 1000000.");
            if (parsed.GetValue(maxSide) is var side and (< 8 or > 65_536)) throw new UserError($"--max-side {side}: must be between 8 and 65536.");
            if (parsed.GetValue(quality) is var q and (< 1 or > 100)) throw new UserError($"--jpeg-quality {q}: must be between 1 and 100.");
            using var stop = CommandLine.StopOnCtrlC(StopBoundary);
            var (ids, bytes) = DatasetSubset.Create(parsed.GetValue(source)!, parsed.GetValue(output)!, parsed.GetValue(count),
                parsed.GetValue(maxSide), parsed.GetValue(quality), cancel: stop.Token);
            Console.WriteLine($"wrote {ids.Count} samples ({bytes:N0} bytes of images and masks) to {Path.GetFullPath(parsed.GetValue(output)!)}");
            return 0;
        });
        return command;
    }
}
