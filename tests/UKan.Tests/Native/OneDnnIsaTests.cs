using UKan.Cli;
using UKan.Native;

namespace UKan.Tests.Native;

/// <summary>
/// The start-up choice of oneDNN's instruction-set limit (<see cref="OneDnnIsa"/>) and the single re-exec that puts it
/// into the environment (<see cref="StartupReexec"/>), as pure functions: probe results in, limit (or ATen) out.
/// </summary>
public class OneDnnIsaTests
{
    static readonly string[] Avx512Cpu = [OneDnnIsa.NoLimit, "AVX2", "AVX"];

    static Func<string, string?> Env(params (string Key, string Value)[] vars) =>
        key => vars.FirstOrDefault(v => v.Key == key).Value;

    [Fact]
    public void Candidates_are_no_limit_then_the_isas_below_the_cpus_own()
    {
        Assert.Equal(Avx512Cpu, OneDnnIsa.Candidates(new HashSet<string> { "avx", "avx2", "avx512f", "avx512bw" }));
        Assert.Equal([OneDnnIsa.NoLimit, "AVX"], OneDnnIsa.Candidates(new HashSet<string> { "avx", "avx2" }));
        Assert.Equal([OneDnnIsa.NoLimit], OneDnnIsa.Candidates(new HashSet<string> { "sse4_2", "avx" }));
    }

    [Theory]
    [InlineData("pass", OneDnnIsa.NoLimit)]        // oneDNN right at the CPU's own ISA: no limit
    [InlineData("fail pass", "AVX2")]              // this workplace's AVX-512 EPYC if AVX2 is right
    [InlineData("fail fail pass", "AVX")]
    [InlineData("fail fail fail", OneDnnIsa.Aten)] // wrong everywhere: ATen's own convolutions
    [InlineData("fail ?", null)]                   // a probe could not run: no decision, nothing cached
    public void Decide_takes_the_first_limit_that_passes(string results, string? expected)
    {
        var outcomes = results.Split(' ').Select(r => r switch { "pass" => (bool?)true, "fail" => false, _ => null }).ToArray();
        var probed = new List<string>();
        var decision = OneDnnIsa.Decide(Avx512Cpu, isa => { probed.Add(isa); return outcomes[probed.Count - 1]; });
        Assert.Equal(expected, decision);
        Assert.Equal(Avx512Cpu.Take(outcomes.Length), probed);   // stops at the first answer
    }

    sealed class Recorder
    {
        public List<string> Probed { get; } = [];
        public List<string> Stored { get; } = [];
        public Func<string, bool?> Probe(params string[] passing) => isa => { Probed.Add(isa); return passing.Contains(isa); };
        public void Store(string d) => Stored.Add(d);
    }

    [Fact]
    public void Without_a_cached_decision_the_probes_decide_and_the_answer_is_cached()
    {
        var r = new Recorder();
        var choice = OneDnnIsa.Plan(Env(), () => null, Avx512Cpu, r.Probe("AVX2", "AVX"), r.Store);
        Assert.Equal("AVX2", choice.Isa);
        Assert.Equal([OneDnnIsa.NoLimit, "AVX2"], r.Probed);
        Assert.Equal(["AVX2"], r.Stored);
    }

    [Fact]
    public void A_cached_decision_is_used_without_probing()
    {
        var r = new Recorder();
        Assert.Equal("AVX", OneDnnIsa.Plan(Env(), () => "AVX", Avx512Cpu, r.Probe(), r.Store).Isa);
        Assert.Null(OneDnnIsa.Plan(Env(), () => OneDnnIsa.NoLimit, Avx512Cpu, r.Probe(), r.Store).Isa);
        Assert.Null(OneDnnIsa.Plan(Env(), () => OneDnnIsa.Aten, Avx512Cpu, r.Probe(), r.Store).Isa);   // the in-process probe falls back
        Assert.Empty(r.Probed);
        Assert.Empty(r.Stored);
    }

    [Fact]
    public void The_users_settings_win_and_start_no_probe()
    {
        var r = new Recorder();
        Assert.Null(OneDnnIsa.Plan(Env(("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")), () => "AVX2", Avx512Cpu, r.Probe(), r.Store).Isa);
        Assert.Null(OneDnnIsa.Plan(Env(("UKAN_ONEDNN", "off")), () => null, Avx512Cpu, r.Probe(), r.Store).Isa);
        Assert.Null(OneDnnIsa.Plan(Env(("UKAN_ONEDNN", "on")), () => null, Avx512Cpu, r.Probe(), r.Store).Isa);
        Assert.Equal("AVX", OneDnnIsa.Plan(Env(("UKAN_ONEDNN_ISA", "avx")), () => "AVX2", Avx512Cpu, r.Probe(), r.Store).Isa);
        Assert.Null(OneDnnIsa.Plan(Env(("UKAN_ONEDNN_ISA", "default")), () => "AVX2", Avx512Cpu, r.Probe(), r.Store).Isa);
        Assert.Empty(r.Probed);
        Assert.Throws<UserError>(() => OneDnnIsa.Plan(Env(("UKAN_ONEDNN_ISA", "avx2; rm")), () => null, Avx512Cpu, r.Probe(), r.Store));
    }

    [Fact]
    public void A_limit_that_ukan_set_itself_is_not_mistaken_for_the_users()
    {
        var r = new Recorder();
        var env = Env(("ONEDNN_MAX_CPU_ISA", "AVX2"), (OneDnnIsa.SourceVariable, "cached decision for this CPU"));
        Assert.Equal("AVX", OneDnnIsa.Plan(env, () => "AVX", Avx512Cpu, r.Probe(), r.Store).Isa);
    }

    [Fact]
    public void One_reexec_sets_the_malloc_settings_and_the_limit_together()
    {
        var changes = StartupReexec.Changes(Env(), new OneDnnIsa.Choice("AVX2", "probed for this CPU"))!;
        Assert.True(MallocTuning.IsActive(changes["GLIBC_TUNABLES"]));
        Assert.Equal("AVX2", changes["ONEDNN_MAX_CPU_ISA"]);
        Assert.Equal("probed for this CPU", changes[OneDnnIsa.SourceVariable]);
        Assert.Equal("1", changes[StartupReexec.GuardVariable]);

        // Only the limit missing (the ukan launcher sets the malloc settings): still one re-exec, for the limit.
        var tuned = MallocTuning.Merge(null);
        var limitOnly = StartupReexec.Changes(Env(("GLIBC_TUNABLES", tuned)), new OneDnnIsa.Choice("AVX2", "cache"))!;
        Assert.False(limitOnly.ContainsKey("GLIBC_TUNABLES"));
        Assert.Equal("AVX2", limitOnly["ONEDNN_MAX_CPU_ISA"]);

        // Everything in place: no re-exec.
        Assert.Null(StartupReexec.Changes(Env(("GLIBC_TUNABLES", tuned), ("ONEDNN_MAX_CPU_ISA", "AVX2")), new OneDnnIsa.Choice("AVX2", "cache")));
        Assert.Null(StartupReexec.Changes(Env(("GLIBC_TUNABLES", tuned)), new OneDnnIsa.Choice(null, "default")));
    }

    [Fact]
    public void A_reexecuted_child_never_reexecutes_again()
    {
        // The guard wins even when the child's environment lacks what the parent meant to set (e.g. glibc dropped
        // GLIBC_TUNABLES for a setuid binary): a loop of processes would be far worse than slow malloc.
        var env = Env((StartupReexec.GuardVariable, "1"));
        Assert.Null(StartupReexec.Changes(env, new OneDnnIsa.Choice("AVX2", "cache")));
        Assert.Null(StartupReexec.Changes(env, null));
    }

    [Fact]
    public void Opting_out_of_the_malloc_settings_needs_no_reexec()
    {
        Assert.Null(StartupReexec.Changes(Env(("UKAN_DEFAULT_MALLOC", "1")), null));
    }
}
