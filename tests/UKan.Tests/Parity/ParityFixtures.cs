using UKan.Diagnostics;

namespace UKan.Tests.Parity;

/// <summary>
/// Discovers the parity fixtures: every NAME.json with a NAME.safetensors beside it in the fixtures folder:
/// UKAN_FIXTURES when set, else the team's ../shared/fixtures/ukan-reference beside the repository when present,
/// else the copy committed in tests/fixtures/ukan-reference (so that a clean clone tests the same numbers).
/// Reading and loading them is <see cref="ReferenceFixtures"/>'s (the selftest runs the same on a GPU).
/// </summary>
public static class ParityFixtures
{
    public static string Folder()
    {
        if (Environment.GetEnvironmentVariable(ReferenceFixtures.Variable) is { Length: > 0 } env) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "UKan.slnx")))
                return ReferenceFixtures.Locate(dir.FullName) ?? Path.Combine(dir.FullName, "tests", "fixtures", "ukan-reference");
        throw new InvalidOperationException("repository root (UKan.slnx) not found above the test binaries");
    }

    public static IEnumerable<ReferenceFixtures.Fixture> All() => ReferenceFixtures.In(Folder());

    /// <summary>KANLinear fixtures: the json names in_features.</summary>
    public static TheoryData<string> KanLinear() => Names(f => f.IsKanLinear);

    /// <summary>U-KAN fixtures: the json names embed_dims.</summary>
    public static TheoryData<string> UKan() => Names(f => f.IsSegUKan);

    public static ReferenceFixtures.Fixture Get(string name) => All().Single(f => f.Name == name);

    static TheoryData<string> Names(Func<ReferenceFixtures.Fixture, bool> kind)
    {
        var data = new TheoryData<string>();
        foreach (var f in All().Where(kind)) data.Add(f.Name);
        return data;
    }
}
