using System.Text.Json;
using System.Text.Json.Nodes;
using UKan.Benchmarks;
using UKan.Diffusion;
using UKan.IO;
using UKan.Models;
using UKan.Models.Diffusion;
using UKan.Training;

namespace UKan.Tests.IO;

/// <summary>
/// One JSON convention: snake_case keys in what the tools write, and older files (camelCase or PascalCase keys)
/// still read. The fixtures are docs/runs/allukan-exact-official-6142/config.json and
/// docs/runs/diffusion-cvc-h100/config.json with their keys respelt.
/// </summary>
public class JsonFilesTests
{
    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "IO", "Fixtures", name);

    [Theory]
    [InlineData("train-config-camel.json")]
    [InlineData("train-config-pascal.json")]
    public void Train_config_with_old_key_spellings_loads_as_the_snake_case_one(string name)
    {
        var expected = TrainConfig.Load(Fixture("train-config-snake.json"));
        var old = TrainConfig.Load(Fixture(name));
        Assert.Equal(expected.ToJson(), old.ToJson());
        // Spot checks that the keys really matched (a missed key would silently give the default on both sides
        // only if the snake fixture were wrong too).
        Assert.Equal(Architecture.AllUKan, old.Model.Architecture);
        Assert.Equal([128, 160, 256], old.Model.EmbedDims);
        Assert.Equal(80, old.Epochs);
        Assert.Equal(0.01, old.KanLr);
        Assert.Equal("docs/splits/busi/official-split-6142.json", old.Split);
        Assert.Equal(UKan.Layers.SplineGradient.ExactRecompute, old.Model.ReadOptions<AllUKanOptions>().Activation.Gradient);
    }

    [Fact]
    public void Model_spec_in_weights_metadata_with_camel_case_keys_still_reads()
    {
        var spec = ModelSpec.FromJson("{\"architecture\":\"u-kan\",\"embedDims\":[32,40,64],\"inChannels\":1,\"numClasses\":2,\"mixer\":\"mlp\",\"preset\":\"tiny\"}");
        Assert.Equal([32, 40, 64], spec.EmbedDims);
        Assert.Equal(1, spec.InChannels);
        Assert.Equal(2, spec.NumClasses);
        Assert.Equal(TokenMixer.Mlp, spec.Mixer);
        // And it is written back in snake_case.
        Assert.Contains("\"embed_dims\":[32,40,64]", spec.ToJson());
    }

    [Fact]
    public void Diffusion_config_with_camel_case_keys_loads()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ukan-json-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            File.Copy(Fixture("diffusion-config-camel.json"), Path.Combine(dir, "config.json"));
            var config = DiffusionTrainer.LoadConfig(dir);
            Assert.Equal(186, config.Epochs);
            Assert.Equal(32, config.Batch);
            Assert.Equal(2, config.WarmupMultiplier);
            Assert.Equal(1000, config.SampleEvery);
            Assert.Equal(50, config.SampleDdimSteps);
            Assert.Equal(DiffusionArchitecture.UKanHybrid, config.Model);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Every_key_the_tools_write_is_snake_case()
    {
        var config = new TrainConfig { Data = "d", Output = "o", Model = new ModelSpec().WithOptions(new AllUKanOptions()) };
        var timing = Timing.Of([1.0, 2.0, 3.0]);
        var bench = new ModelBenchResult("ukan", 1, 8, 256, "fp32", "cpu", "eager", timing, timing, 1, 1, 0, 0, "rss")
        { Phases = new StepPhases(timing, timing, timing) };
        foreach (var json in new[] { config.ToJson(), JsonFiles.Serialize(new { results = new[] { bench } }), JsonFiles.Serialize(new DiffusionConfig { Data = "d", Output = "o" }) })
        {
            var keys = Keys(JsonNode.Parse(json)!).ToList();
            Assert.NotEmpty(keys);
            Assert.All(keys, k => Assert.Matches("^[a-z0-9]+(_[a-z0-9]+)*$", k));
        }
        Assert.Contains("\"fp32-strict\"", JsonFiles.Serialize(new { precision = Precision.Fp32Strict }));
    }

    [Fact]
    public void Keys_are_respelt_but_values_are_not()
    {
        var node = JsonFiles.ToSnakeCase(JsonNode.Parse("{\"sampleEvery\":1,\"Nested\":{\"ImageId\":\"caseA_01\"},\"list\":[{\"minLr\":2}]}")!);
        Assert.Equal("{\"sample_every\":1,\"nested\":{\"image_id\":\"caseA_01\"},\"list\":[{\"min_lr\":2}]}", node.ToJsonString());
    }

    [Fact]
    public void Text_that_is_not_json_is_a_json_error()
    {
        Assert.ThrowsAny<JsonException>(() => JsonFiles.Deserialize<TrainConfig>("{\"data\": "));
        Assert.ThrowsAny<JsonException>(() => JsonFiles.Deserialize<TrainConfig>(""));
    }

    static IEnumerable<string> Keys(JsonNode node) => node switch
    {
        JsonObject o => o.SelectMany(p => new[] { p.Key }.Concat(p.Value is null ? [] : Keys(p.Value))),
        JsonArray a => a.SelectMany(v => v is null ? [] : Keys(v)),
        _ => [],
    };
}
