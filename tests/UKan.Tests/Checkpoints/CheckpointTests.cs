using TorchSharp;
using UKan.Checkpoints;
using UKan.Tests.Parity;
using static TorchSharp.torch;

namespace UKan.Tests.Checkpoints;

public class CheckpointTests
{
    static string Temp(string ext) => Path.Combine(Path.GetTempPath(), $"ukan-ckpt-{Guid.NewGuid():N}{ext}");

    static byte[] Floats(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    [Fact]
    public void Official_pth_fixture_equals_its_safetensors_twin_bit_for_bit()
    {
        _ = TestTorch.Runtime;
        var fixture = ParityFixtures.All().First(f => f.PthPath is not null);
        var fromPth = PthFile.ReadStateDict(fixture.PthPath!);
        var (fromSafe, _) = SafeTensors.Read(fixture.TensorsPath);
        var expected = fromSafe.Where(kv => kv.Key.StartsWith("param.")).ToDictionary(kv => kv.Key["param.".Length..], kv => kv.Value);
        Assert.Equal(expected.Keys.Order(), fromPth.Keys.Order());
        foreach (var (key, value) in expected)
        {
            Assert.Equal(value.dtype, fromPth[key].dtype);
            Assert.Equal(value.shape, fromPth[key].shape);
            Assert.True(value.equal(fromPth[key]).all().item<bool>(), key);
        }
        Assert.Equal(ScalarType.Int64, fromPth["encoder1.conv.1.num_batches_tracked"].dtype);
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("__main__", "Exploit")]
    public void A_pickle_with_a_foreign_global_is_refused_before_anything_runs(string module, string name)
    {
        var marker = Temp(".pwned");
        // If this were executed it would call module.name("touch <marker>").
        var pickle = new PickleWriter().Global(module, name).Mark().Str($"touch {marker}").Tuple().Reduce().Bytes();
        var path = Temp(".pth");
        File.WriteAllBytes(path, PickleWriter.Archive(pickle, new Dictionary<string, byte[]>()));
        var e = Assert.Throws<UserError>(() => PthFile.ReadStateDict(path));
        Assert.Contains($"'{module}.{name}'", e.Message);
        Assert.Contains("refuses to load", e.Message);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void Wrapped_prefixed_and_strided_checkpoints_load()
    {
        _ = TestTorch.Runtime;
        // {"state_dict": OrderedDict(module.w = storage 0 as 2x3, module.t = the same storage transposed 3x2), "epoch": 7}
        var p = new PickleWriter().EmptyDict().Mark()
            .Str("state_dict").Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark()
                .Str("module.w").Tensor("FloatStorage", "0", 6, 0, [2, 3], [3, 1])
                .Str("module.t").Tensor("FloatStorage", "0", 6, 0, [3, 2], [1, 3])
                .Str("module.n").Tensor("LongStorage", "1", 1, 0, [], [])
            .SetItems()
            .Str("epoch").Int(7)
            .SetItems();
        var path = Temp(".pth");
        File.WriteAllBytes(path, PickleWriter.Archive(p.Bytes(), new Dictionary<string, byte[]>
        {
            ["0"] = Floats(1, 2, 3, 4, 5, 6),
            ["1"] = BitConverter.GetBytes(42L),
        }));
        var sd = PthFile.ReadStateDict(path);
        Assert.Equal(["n", "t", "w"], sd.Keys.Order().ToArray());
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, sd["w"].data<float>().ToArray());
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, sd["t"].data<float>().ToArray());
        Assert.Equal(42L, sd["n"].item<long>());
    }

    [Fact]
    public void Truncated_zero_byte_and_foreign_pth_files_give_user_errors()
    {
        _ = TestTorch.Runtime;
        var fixture = ParityFixtures.All().First(f => f.PthPath is not null);
        var bytes = File.ReadAllBytes(fixture.PthPath!);
        foreach (var broken in new[] { bytes[..(bytes.Length / 2)], bytes[..10], Array.Empty<byte>(), "not a checkpoint"u8.ToArray() })
        {
            var path = Temp(".pth");
            File.WriteAllBytes(path, broken);
            Assert.Throws<UserError>(() => PthFile.ReadStateDict(path));
        }
    }

    [Fact]
    public void Safetensors_round_trip_every_dtype_with_metadata()
    {
        _ = TestTorch.Runtime;
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = randn(3, 4).t(),                       // non-contiguous
            ["f64"] = randn(5, dtype: float64),
            ["f16"] = randn(2, 3).to(float16),
            ["bf16"] = randn(2, 3).to(bfloat16),
            ["i64"] = tensor(new long[] { long.MinValue, -1, long.MaxValue }),
            ["i32"] = tensor(new[] { int.MinValue, 7 }),
            ["i16"] = tensor(new short[] { -3, 300 }),
            ["i8"] = tensor(new sbyte[] { -128, 127 }),
            ["u8"] = tensor(new byte[] { 0, 255 }),
            ["bool"] = tensor(new[] { true, false, true }),
            ["scalar"] = tensor(3.5f),
        };
        var path = Temp(".safetensors");
        SafeTensors.Write(path, tensors.Select(kv => (kv.Key, kv.Value)), new Dictionary<string, string> { ["ukan.spec"] = "{}", ["note"] = "é" });
        var (back, meta) = SafeTensors.Read(path);
        Assert.Equal("é", meta["note"]);
        foreach (var (key, value) in tensors)
        {
            Assert.Equal(value.dtype, back[key].dtype);
            Assert.Equal(value.shape, back[key].shape);
            Assert.True(value.contiguous().equal(back[key]).all().item<bool>(), key);
        }
    }

    [Fact]
    public void Corrupt_safetensors_files_give_user_errors()
    {
        _ = TestTorch.Runtime;
        var path = Temp(".safetensors");
        SafeTensors.Write(path, [("w", randn(10, 10))]);
        var good = File.ReadAllBytes(path);
        var cases = new List<byte[]> { Array.Empty<byte>(), good[..5], good[..(good.Length - 7)], Enumerable.Repeat((byte)0xFF, 64).ToArray() };
        var badHeader = (byte[])good.Clone();
        badHeader[9] = (byte)'!';
        cases.Add(badHeader);
        foreach (var bytes in cases)
        {
            File.WriteAllBytes(path, bytes);
            Assert.Throws<UserError>(() => SafeTensors.Read(path));
        }
    }

    [Fact]
    public void Strict_loading_lists_missing_unexpected_and_mismatched_keys_on_one_line()
    {
        _ = TestTorch.Runtime;
        var model = nn.Sequential(("fc", nn.Linear(4, 3)), ("bn", nn.BatchNorm1d(3)));
        var good = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var bad = new Dictionary<string, Tensor>(good);
        bad.Remove("bn.running_var");
        bad["extra.weight"] = zeros(1);
        bad["fc.weight"] = zeros(5, 4);
        var e = Assert.Throws<UserError>(() => StateDictLoader.Load(model, bad, "x.pth"));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("1 missing (bn.running_var)", e.Message);
        Assert.Contains("1 unexpected (extra.weight)", e.Message);
        Assert.Contains("fc.weight: file [5,4] vs model [3,4]", e.Message);

        var other = nn.Sequential(("fc", nn.Linear(4, 3)), ("bn", nn.BatchNorm1d(3)));
        StateDictLoader.Load(other, good, "good.pth");
        foreach (var (key, value) in good) Assert.True(value.equal(other.state_dict()[key]).all().item<bool>(), key);
    }

    [Fact]
    public void Exported_weights_carry_the_model_configuration_and_load_back()
    {
        _ = TestTorch.Runtime;
        var spec = new UKan.Models.ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" };
        var model = UKan.Models.ModelFactory.Create(spec);
        var path = Temp(".safetensors");
        UKan.Training.ModelExport.Save(path, model, spec);
        var (tensors, meta) = SafeTensors.Read(path);
        Assert.Equal("pt", meta["format"]);
        Assert.Equal([32, 40, 64], UKan.Training.ModelExport.ReadSpec(meta)!.EmbedDims);
        Assert.Contains("block1.0.layer.fc1.spline_weight", tensors.Keys);   // official names, no prefix
        var (loaded, _) = UKan.Models.ModelLoader.Load(path);
        foreach (var (key, value) in model.state_dict())
            Assert.True(value.equal(loaded.state_dict()[key]).all().item<bool>(), key);
    }
}
