using TorchSharp;
using UKan.Export;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Export;

/// <summary>
/// The KAN layers' ONNX forms one by one against TorchSharp (<see cref="OnnxCheck"/>'s norm): KanLinear on the
/// closed-form cubic path and on the Cox–de Boor path (spline order ≠ 3, and a non-uniform grid left by update_grid),
/// ψ of another order, and the KA layer with Sprecher's shift.
/// </summary>
public class OnnxKanLayerTests
{
    /// <summary>A one-layer graph: input x (rows, in) with a dynamic row axis → output y.</summary>
    static byte[] Graph(int inFeatures, int outFeatures, Func<OnnxGraphBuilder, string, string> layer)
    {
        var g = new OnnxGraphBuilder(OnnxExporter.DefaultOpset);
        var x = g.Input("x", OnnxDim.Dynamic("rows"), new OnnxDim(inFeatures));
        g.Output(layer(g, x), "y", OnnxDim.Dynamic("rows"), new OnnxDim(outFeatures));
        return g.ToModel("layer", "test", "", []);
    }

    static void AssertLayer(nn.Module<Tensor, Tensor> layer, byte[] onnx, Tensor x, string what)
    {
        Tensor expected;
        using (no_grad()) expected = layer.call(x);
        var error = OnnxCheck.RelativeError(expected, OnnxCheck.Run(onnx, x, "x")["y"]);
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: max |onnx - torch| / max |torch| = {error:G3}");
        Assert.True(error <= OnnxCheck.Tolerance, $"{what}: {error:G3} relative");
    }

    /// <summary>Inputs over and beyond the grid range (the bases vanish outside the knots).</summary>
    static Tensor Inputs(int inFeatures) => cat([rand(64, inFeatures) * 6 - 3, linspace(-2.5, 2.5, 16).unsqueeze(1).expand(16, inFeatures)], 0);

    [Theory]
    [InlineData(5, 3)]   // U-KAN's setting: the closed-form cubic
    [InlineData(4, 2)]   // order 2: Cox–de Boor
    [InlineData(3, 1)]
    [InlineData(6, 4)]
    public void KanLinear_matches_torch(int grid, int order)
    {
        _ = TestTorch.Runtime;
        var layer = new KanLinear(6, 5, new KanLinearOptions { GridSize = grid, SplineOrder = order });
        using (no_grad()) layer.SplineWeight.copy_(randn_like(layer.SplineWeight));
        var onnx = Graph(6, 5, (g, x) => OnnxKan.KanLinear(g, layer, x, 2, "kan"));
        AssertLayer(layer, onnx, Inputs(6), $"KanLinear G={grid} k={order}");
    }

    [Fact]
    public void KanLinear_with_an_adapted_non_uniform_grid_takes_cox_de_boor_and_matches_torch()
    {
        _ = TestTorch.Runtime;
        var layer = new KanLinear(6, 5);
        using (no_grad()) layer.SplineWeight.copy_(randn_like(layer.SplineWeight));
        layer.UpdateGrid(randn(200, 6).pow(3) * 0.5);
        Assert.Null(BSplineBasis.TryUniform(layer.Grid, 3));
        Assert.False(layer.UsesFastPath);
        var onnx = Graph(6, 5, (g, x) => OnnxKan.KanLinear(g, layer, x, 2, "kan"));
        AssertLayer(layer, onnx, Inputs(6), "KanLinear adapted grid");
    }

    [Theory]
    [InlineData(3, "silu")]
    [InlineData(2, "tanh")]
    [InlineData(1, "relu")]
    public void Shared_activation_and_KA_layer_with_shift_match_torch(int order, string baseActivation)
    {
        _ = TestTorch.Runtime;
        var psi = new SharedActivationOptions
        {
            SplineOrder = order,
            BaseActivation = Enum.Parse<BaseActivation>(baseActivation, ignoreCase: true),
        };
        var plain = new KaLinear(6, 5, activation: psi);
        var shifted = new KaLinear(6, 5, activation: psi, shift: new SprecherShiftOptions { Mode = ShiftMode.Fixed });
        foreach (var layer in new[] { plain, shifted })
        {
            using (no_grad()) layer.Activation.Coefficients.copy_(randn_like(layer.Activation.Coefficients));
            var onnx = Graph(6, 5, (g, x) => OnnxKan.KaLinear(g, layer, x, "ka"));
            AssertLayer(layer, onnx, Inputs(6), $"KA k={order} {baseActivation} shift {layer.ShiftMode}");
        }
    }
}
