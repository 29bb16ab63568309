using System.Globalization;
using TorchSharp;
using UKan.Layers;
using UKan.Models;
using UKan.Plots;
using UKan.Tests.Commands;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Plots;

public class KanActivationsTests
{
    /// <summary>A KANLinear whose spline terms are far from their near-zero initialisation.</summary>
    static KanLinear Layer(int inputs, int outputs, int seed)
    {
        manual_seed(seed);
        var layer = new KanLinear(inputs, outputs);
        using (no_grad()) layer.SplineWeight.normal_(0, 0.5);
        return layer;
    }

    [Theory]
    [InlineData(KanPath.Fast)]
    [InlineData(KanPath.General)]
    public void Curves_of_all_edges_summed_over_inputs_reproduce_the_layer_output(KanPath path)
    {
        _ = TestTorch.Runtime;
        var layer = Layer(5, 3, 11);
        layer.Path = path;
        var result = KanActivations.Analyse("fc", layer, null, top: 15);
        Assert.Equal(15, result.Curves.Count);
        var xs = tensor(result.Curves[0].X, dtype: float32);
        // Every input set to x: y_j(x) = Σ_i φ_ij(x).
        var y = layer.call(xs.unsqueeze(1).expand(-1, 5)).to(float64);
        for (int j = 0; j < 3; j++)
        {
            var sum = new double[xs.shape[0]];
            foreach (var c in result.Curves.Where(c => c.Output == j))
                for (int n = 0; n < sum.Length; n++) sum[n] += c.Phi[n];
            TestTorch.AssertClose(y[.., j], tensor(sum), atol: 1e-5, rtol: 1e-5, what: $"output {j}");
        }
        foreach (var c in result.Curves)
            for (int n = 0; n < c.X.Length; n++) Assert.Equal(c.Base[n] + c.Spline[n], c.Phi[n], 1e-6);
    }

    [Fact]
    public void A_single_nonzero_input_moves_each_output_by_its_edge_function()
    {
        _ = TestTorch.Runtime;
        var layer = Layer(4, 2, 5);
        var result = KanActivations.Analyse("fc", layer, null, top: 8);
        int i = 2;
        var xs = result.Curves[0].X;
        var input = zeros(xs.Length, 4);
        input[.., i] = tensor(xs, dtype: float32);
        // y_j(x·e_i) − y_j(0) = φ_ij(x) − φ_ij(0); φ_ij(0) = the spline at 0 (SiLU(0) = 0), read from the layer itself.
        var y = (layer.call(input) - layer.call(zeros(1, 4))).to(float64);
        var (_, splineAtZero) = layer.EdgeTerms(zeros(1, 4));
        for (int j = 0; j < 2; j++)
        {
            var curve = result.Curves.Single(c => c.Input == i && c.Output == j);
            var expected = tensor(curve.Phi) - splineAtZero[0, i, j].to(float64);
            TestTorch.AssertClose(expected, y[.., j], atol: 1e-5, rtol: 1e-5, what: $"edge {i}->{j}");
        }
    }

    [Fact]
    public void Edges_are_ranked_by_their_L1_over_the_given_inputs()
    {
        _ = TestTorch.Runtime;
        var layer = Layer(6, 4, 3);
        manual_seed(1);
        var inputs = randn(300, 6) * 0.8;
        var result = KanActivations.Analyse("fc", layer, inputs, top: 24);
        var l1 = result.Curves.Select(c => c.L1).ToArray();
        Assert.Equal(l1.OrderByDescending(v => v), l1);
        Assert.Equal(Enumerable.Range(1, 24), result.Curves.Select(c => c.Rank));
        // The L1 of one edge, by hand from the layer's forward: input i alone through the layer, minus its output at 0.
        var top = result.Curves[0];
        var (b, s) = layer.EdgeTerms(inputs);
        var manual = (b + s)[.., top.Input, top.Output].abs().mean().item<float>();
        Assert.Equal(manual, top.L1, 1e-5);
        Assert.True(l1[0] > l1[^1] * 1.5, "a random layer has edges of clearly different weight");
        // Another input distribution changes the order: the ranking depends on the inputs.
        var shifted = KanActivations.Analyse("fc", layer, inputs * 0.1 + 1.5, top: 24);
        Assert.NotEqual(result.Curves.Select(c => (c.Input, c.Output)), shifted.Curves.Select(c => (c.Input, c.Output)));
    }

    [Fact]
    public void Ka_layer_edges_are_lambda_times_psi_and_sum_to_the_output()
    {
        _ = TestTorch.Runtime;
        manual_seed(4);
        var layer = new KaLinear(3, 2, hasBias: true);
        using (no_grad()) layer.Activation.Coefficients.normal_(0, 0.5);
        var result = KanActivations.Analyse("ka", layer, null, top: 6);
        var xs = tensor(result.Curves[0].X, dtype: float32);
        var y = layer.call(xs.unsqueeze(1).expand(-1, 3)).to(float64) - layer.Bias!.to(float64);
        for (int j = 0; j < 2; j++)
        {
            var sum = new double[xs.shape[0]];
            foreach (var c in result.Curves.Where(c => c.Output == j))
                for (int n = 0; n < sum.Length; n++) sum[n] += c.Phi[n];
            TestTorch.AssertClose(y[.., j], tensor(sum), atol: 1e-5, rtol: 1e-5, what: $"output {j}");
        }
        var psi = KanActivations.Analyse("ka.act", layer.Activation, null, top: 6);
        Assert.Equal("psi", psi.Kind);
        TestTorch.AssertClose(layer.Activation.call(xs).to(float64), tensor(psi.Curves.Single().Phi), atol: 1e-6, what: "psi");
    }

    static string Temp() => Path.Combine(Path.GetTempPath(), $"ukan-kanplot-{Guid.NewGuid():N}");

    /// <summary>A tiny U-KAN with random weights saved as a weights file (what a run exports), for the CLI tests.</summary>
    static string Weights(Architecture architecture = Architecture.UKan)
    {
        _ = TestTorch.Runtime;
        manual_seed(2);
        var spec = new ModelSpec { Architecture = architecture, EmbedDims = [16, 24, 32], Preset = null };
        var model = ModelFactory.Create(spec);
        var path = Temp() + ".safetensors";
        ModelExport.Save(path, model, spec);
        return path;
    }

    [Fact]
    public void Plot_kan_writes_figures_and_a_csv_whose_curves_equal_the_layer()
    {
        var weights = Weights();
        var data = SyntheticDataset.Create(count: 4, size: 64);
        var output = Temp();
        var r = CliRunner.Run("plot", "kan", "--weights", weights, "--data", data, "--size", "64", "--top", "6", "--out", output);
        Assert.True(r.Code == 0, r.Stderr + r.Stdout);
        Assert.Contains("4 image(s)", r.Stdout);
        var (model, _) = ModelLoader.Load(weights);
        var names = KanActivations.Layers(model).Select(l => l.Name).ToList();
        Assert.Equal(12, names.Count);
        foreach (var n in names)
        {
            Assert.True(new FileInfo(Path.Combine(output, n + ".png")).Length > 1000, n);
            var svg = File.ReadAllText(Path.Combine(output, n + ".svg"));
            Assert.StartsWith("<svg", svg);
            Assert.EndsWith("</svg>\n", svg);
        }
        var lines = File.ReadAllLines(Path.Combine(output, "curves.csv"));
        Assert.Equal(KanActivationPlot.CsvHeader, lines[0]);
        Assert.Equal(1 + 12 * 6 * KanActivations.Points, lines.Length);
        // One edge of the CSV against the layer: φ_ij(x) − φ_ij(0) = y_j(x·e_i) − y_j(0).
        var rows = lines.Skip(1).Select(l => l.Split(',')).Where(f => f[0] == "block1.0.layer.fc2" && f[7] == "1").ToList();
        Assert.Equal(KanActivations.Points, rows.Count);
        int i = int.Parse(rows[0][1], CultureInfo.InvariantCulture), j = int.Parse(rows[0][2], CultureInfo.InvariantCulture);
        var layer = (KanLinear)KanActivations.Layers(model).Single(l => l.Name == "block1.0.layer.fc2").Module;
        var x = rows.Select(f => double.Parse(f[3], CultureInfo.InvariantCulture)).ToArray();
        var phi = rows.Select(f => double.Parse(f[4], CultureInfo.InvariantCulture)).ToArray();
        var input = zeros(x.Length, layer.InFeatures);
        input[.., i] = tensor(x, dtype: float32);
        var y = (layer.call(input) - layer.call(zeros(1, layer.InFeatures)))[.., j].to(float64);
        var (_, atZero) = layer.EdgeTerms(zeros(1, layer.InFeatures));
        TestTorch.AssertClose(y, tensor(phi) - atZero[0, i, j].to(float64), atol: 1e-5, rtol: 1e-4, what: "csv curve");
        // Rank 1 has the largest L1 of its layer.
        var l1 = lines.Skip(1).Select(l => l.Split(',')).Where(f => f[0] == "block1.0.layer.fc2")
            .GroupBy(f => int.Parse(f[7], CultureInfo.InvariantCulture)).OrderBy(g => g.Key)
            .Select(g => double.Parse(g.First()[8], CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(l1.OrderByDescending(v => v), l1);
        Assert.True(l1[0] > 0);
    }

    [Fact]
    public void Plot_kan_of_all_ukan_draws_psi_and_ka_edges_and_says_when_no_images_rank_the_edges()
    {
        var weights = Weights(Architecture.AllUKan);
        var output = Temp();
        var r = CliRunner.Run("plot", "kan", "--weights", weights, "--top", "4", "--out", output);
        Assert.True(r.Code == 0, r.Stderr + r.Stdout);
        Assert.Contains("uniform sample of the grid range", r.Stdout);
        var csv = File.ReadAllLines(Path.Combine(output, "curves.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Contains(csv, f => f[1] == "" && f[0].EndsWith(".act", StringComparison.Ordinal));   // a ψ curve
        Assert.Contains(csv, f => f[1] != "" && f[7] == "1");                                       // ranked KA edges
        Assert.Contains("uniform sample", File.ReadAllText(Directory.GetFiles(output, "*.svg").First(f => !f.EndsWith(".act.svg", StringComparison.Ordinal))));
    }

    [Fact]
    public void Plot_kan_refuses_bad_inputs_with_one_line()
    {
        var weights = Weights();
        void Refused(string[] args, string expected)
        {
            var r = CliRunner.Run(args);
            Assert.True(r.Code == 2, $"exit {r.Code}: {r.Stderr}");
            Assert.Contains(expected, r.Stderr);
            Assert.Single(r.Stderr.Trim().Split('\n'));
        }
        Refused(["plot", "kan", "--weights", "/nonexistent.safetensors", "--out", Temp()], "/nonexistent.safetensors");
        Refused(["plot", "kan", "--weights", weights, "--top", "0", "--out", Temp()], "--top 0");
        Refused(["plot", "kan", "--weights", weights, "--layer", "block9.fc1", "--out", Temp()], "block1.0.layer.fc1");
        Refused(["plot", "kan", "--weights", weights, "--data", "/nonexistent-dir", "--out", Temp()], "/nonexistent-dir");
        var mlp = Temp() + ".safetensors";
        var spec = new ModelSpec { EmbedDims = [16, 24, 32], Preset = null, Mixer = TokenMixer.Mlp };
        ModelExport.Save(mlp, ModelFactory.Create(spec), spec);
        var output = Temp();
        Refused(["plot", "kan", "--weights", mlp, "--out", output], "no KAN layers");
        Assert.False(Directory.Exists(output));
    }
}
