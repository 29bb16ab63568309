using System.Text.Json;

namespace UKan.Data;

/// <summary>
/// A train/validation split of sample ids. U-KAN uses sklearn's train_test_split(test_size = 0.2, random_state =
/// dataseed): ceil(0.2·n) ids for validation after a seeded shuffle. We keep the sizes and the role of the seed but use
/// our own shuffle (SplitMix64 + Fisher–Yates), so the ids differ from sklearn's for the same seed; the split is
/// written to split.json and can be reused with --split.
/// </summary>
public sealed record DataSplit(long Seed, double ValidationFraction, IReadOnlyList<string> Train, IReadOnlyList<string> Validation)
{
    public static DataSplit Make(IReadOnlyList<string> ids, long seed, double validationFraction = 0.2)
    {
        if (ids.Count < 2) throw new UserError($"only {ids.Count} sample(s): at least 2 are needed to split into training and validation.");
        var order = ids.Order(StringComparer.Ordinal).ToList();
        SplitMix64.For(seed).Shuffle(order);
        int nVal = Math.Clamp((int)Math.Ceiling(validationFraction * order.Count), 1, order.Count - 1);
        return new DataSplit(seed, validationFraction, order.Skip(nVal).ToList(), order.Take(nVal).ToList());
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, UKan.IO.JsonFiles.Serialize(this));

    public static DataSplit Load(string path)
    {
        if (!File.Exists(path)) throw new UserError($"--split {path}: file not found; pass a split.json written by 'ukan train'.");
        try
        {
            var split = UKan.IO.JsonFiles.Deserialize<DataSplit>(File.ReadAllText(path));
            if (split is null || split.Train is null || split.Validation is null || split.Train.Count == 0 || split.Validation.Count == 0)
                throw new UserError($"--split {path}: no train or validation ids in it; pass a split.json written by 'ukan train'.");
            var both = split.Train.Intersect(split.Validation, StringComparer.Ordinal).ToList();
            if (both.Count > 0)
                throw new UserError($"--split {path}: {both.Count} id(s) are in both train and validation ({string.Join(", ", both.Take(3))}{(both.Count > 3 ? ", …" : "")}); " +
                                    "validating on training images overstates the scores: fix the file so that each id is in one list.");
            return split;
        }
        catch (JsonException e)
        {
            throw new UserError($"--split {path}: not a valid split file ({e.Message.Split('.')[0]}); pass a split.json written by 'ukan train'.");
        }
    }

    /// <summary>Fails with the missing ids when the split names samples the folder does not have.</summary>
    public void CheckAgainst(IReadOnlyCollection<string> available, string dataDir)
    {
        var set = available as ISet<string> ?? new HashSet<string>(available);
        var missing = Train.Concat(Validation).Where(id => !set.Contains(id)).ToList();
        if (missing.Count > 0)
            throw new UserError($"the split names {missing.Count} sample(s) that {dataDir} does not have ({string.Join(", ", missing.Take(3))}{(missing.Count > 3 ? ", …" : "")}); use the data folder the split was made for.");
    }
}
