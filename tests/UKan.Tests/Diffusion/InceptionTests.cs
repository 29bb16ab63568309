using UKan.Checkpoints;
using UKan.Data;
using UKan.Diffusion;
using UKan.Models;
using UKan.Models.Inception;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Tests.Diffusion;

/// <summary>
/// The Inception v3 networks FID and IS are defined on. The published weights cannot be downloaded here, so these
/// tests pin what can be checked without them (with <see cref="InceptionModelTester"/>: the published parameter
/// counts and output widths): the FID variant's pooling, strict loading of a weights file, and the metric pipeline on
/// a randomly initialised network.
/// </summary>
public class InceptionTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), $"ukan-inception-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, true);
    }

    /// <summary>TensorFlow's average pool divides by the valid pixels only: at a corner of an all-ones map it stays 1.</summary>
    [Fact]
    public void Fid_pooling_ignores_padding_and_torchvision_pooling_counts_it()
    {
        _ = TestTorch.Runtime;
        var ones = torch.ones(1, 1, 4, 4);
        Assert.Equal(1f, Pools.Branch(ones, BranchPool.AverageWithoutPadding)[0, 0, 0, 0].item<float>(), 6);
        Assert.Equal(4f / 9f, Pools.Branch(ones, BranchPool.Average)[0, 0, 0, 0].item<float>(), 6);
        Assert.Equal(1f, Pools.Branch(ones, BranchPool.Max)[0, 0, 0, 0].item<float>(), 6);
    }

    static string Folder(string dir, int count, int seed)
    {
        Directory.CreateDirectory(dir);
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            var px = new byte[64 * 64 * 3];
            rng.NextBytes(px);
            ImageFile.WritePng(Path.Combine(dir, $"{i:D3}.png"), Raster.Create8(64, 64, 3, px));
        }
        return dir;
    }

    [Fact]
    public void Weights_load_strictly_and_the_metrics_run_end_to_end()
    {
        _ = TestTorch.Runtime;
        manual_seed(0);
        var source = new InceptionV3(InceptionVariant.Fid);
        // A file as old PyTorch saved it, without BatchNorm's step counters: still accepted (PyTorch does the same).
        var weights = Path.Combine(root, "fid.safetensors");
        Directory.CreateDirectory(root);
        SafeTensors.Write(weights, source.state_dict().Where(kv => !kv.Key.EndsWith("num_batches_tracked")).Select(kv => (kv.Key, kv.Value)));
        var net = InceptionMetrics.Load(weights, InceptionVariant.Fid, "--fid-weights");

        using (no_grad())
        {
            var x = rand(1, 3, 299, 299);
            TestTorch.AssertClose(source.Features(x), net.Features(x), atol: 0, rtol: 0, what: "loaded network");
        }
        var refused = Assert.Throws<UserError>(() => InceptionMetrics.Load(weights, InceptionVariant.Torchvision, "--is-weights"));
        Assert.Contains("inception_v3_google-0cc3c7bd.pth", refused.Message);

        var a = InceptionMetrics.ImageFiles(Folder(Path.Combine(root, "a"), 4, 1), "--real");
        var b = InceptionMetrics.ImageFiles(Folder(Path.Combine(root, "b"), 4, 2), "--generated");
        var fa = InceptionMetrics.FidFeatures(net, a, CPU, batch: 3);       // two batches, the last partial
        Assert.Equal([4L, 2048], fa.shape);
        var fb = InceptionMetrics.FidFeatures(net, b, CPU);
        double self = GenerativeMetrics.FrechetDistance(fa, fa), other = GenerativeMetrics.FrechetDistance(fa, fb);
        Assert.True(other > 0);
        Assert.True(Math.Abs(self) < 1e-6 * other, $"FID of a set with itself is {self}, against another {other}");

        var probs = InceptionMetrics.IsProbabilities(new InceptionV3(InceptionVariant.Torchvision), b, CPU);
        Assert.Equal([4L, 1000], probs.shape);
        TestTorch.AssertClose(torch.ones(4, dtype: float64), probs.sum(1), atol: 1e-9, what: "softmax rows");
    }
}
