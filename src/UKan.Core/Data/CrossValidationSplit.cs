using System.Text.Json;

namespace UKan.Data;

/// <summary>
/// The splits of a k-fold cross-validation with a held-out test set (splits.json of <c>ukan cv</c>): first
/// ceil(test_fraction·n) ids are held out as the test set by the same seeded shuffle as <see cref="DataSplit.Make"/>,
/// then the remaining ids, in that shuffled order, are cut into k folds of sizes differing by at most one (the first
/// n mod k folds one larger, as scikit-learn's KFold). Fold j validates on its part and trains on the others; each
/// fold is a <see cref="DataSplit"/> in the format of a run's split.json, so one can be reused with
/// <c>ukan train --split</c>. The test ids are in no fold.
/// </summary>
public sealed record CrossValidationSplit(long Seed, double TestFraction, IReadOnlyList<string> Test, IReadOnlyList<DataSplit> Folds)
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static CrossValidationSplit Make(IReadOnlyList<string> ids, long seed, int folds, double testFraction)
    {
        CheckSettings(folds, testFraction);
        var outer = DataSplit.Make(ids, seed, testFraction);
        var rest = outer.Train;
        if (rest.Count < folds)
            throw new UserError($"--folds {folds}: only {rest.Count} image(s) are left after the test set ({outer.Validation.Count} of {ids.Count}); use fewer folds or a smaller --test-fraction.");
        var splits = new List<DataSplit>();
        int start = 0;
        for (int j = 0; j < folds; j++)
        {
            int size = rest.Count / folds + (j < rest.Count % folds ? 1 : 0);
            var validation = rest.Skip(start).Take(size).ToList();
            var train = rest.Take(start).Concat(rest.Skip(start + size)).ToList();
            splits.Add(new DataSplit(seed, (double)size / rest.Count, train, validation));
            start += size;
        }
        return new CrossValidationSplit(seed, testFraction, outer.Validation, splits);
    }

    /// <summary>Refuses fold counts below 2 and test fractions outside (0, 1) with the option names.</summary>
    public static void CheckSettings(int folds, double testFraction)
    {
        if (folds < 2) throw new UserError($"--folds {folds}: cross-validation needs at least 2 folds.");
        if (!(testFraction > 0 && testFraction < 1)) throw new UserError($"--test-fraction {testFraction}: must be between 0 and 1 (exclusive), e.g. 0.2.");
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    /// <summary>Whether the JSON file at <paramref name="path"/> is a cross-validation split (it has "test" and "folds").</summary>
    public static bool IsOne(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("test", out _) && doc.RootElement.TryGetProperty("folds", out _);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>Reads a splits.json and checks it: test ids in no fold, each fold's lists disjoint, folds' validation parts disjoint.</summary>
    public static CrossValidationSplit Load(string path, string option = "--split-file")
    {
        if (!File.Exists(path)) throw new UserError($"{option} {path}: file not found; pass a splits.json written by 'ukan cv'.");
        CrossValidationSplit? split;
        try { split = JsonSerializer.Deserialize<CrossValidationSplit>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new UserError($"{option} {path}: not a valid splits file ({e.Message.Split('.')[0]}); pass a splits.json written by 'ukan cv'."); }
        if (split?.Test is not { Count: > 0 } || split.Folds is not { Count: >= 2 } || split.Folds.Any(f => f?.Train is not { Count: > 0 } || f.Validation is not { Count: > 0 }))
            throw new UserError($"{option} {path}: needs a non-empty test list and at least 2 folds with train and validation ids; pass a splits.json written by 'ukan cv'.");
        var test = new HashSet<string>(split.Test, StringComparer.Ordinal);
        var validated = new HashSet<string>(StringComparer.Ordinal);
        for (int j = 0; j < split.Folds.Count; j++)
        {
            var f = split.Folds[j];
            var leak = f.Train.Concat(f.Validation).FirstOrDefault(test.Contains);
            if (leak is not null) throw new UserError($"{option} {path}: fold {j} uses the test image {leak}; a test image must be in no fold.");
            var both = f.Train.Intersect(f.Validation, StringComparer.Ordinal).FirstOrDefault();
            if (both is not null) throw new UserError($"{option} {path}: fold {j} has {both} in both train and validation; fix the file.");
            var twice = f.Validation.FirstOrDefault(id => !validated.Add(id));
            if (twice is not null) throw new UserError($"{option} {path}: {twice} is validated in two folds; each image belongs to one fold's validation part.");
        }
        return split;
    }

    /// <summary>Fails with the missing ids when the splits name samples the folder does not have.</summary>
    public void CheckAgainst(IReadOnlyCollection<string> available, string dataDir)
    {
        foreach (var fold in Folds) fold.CheckAgainst(available, dataDir);
        new DataSplit(Seed, TestFraction, Test, Test).CheckAgainst(available, dataDir);
    }
}
