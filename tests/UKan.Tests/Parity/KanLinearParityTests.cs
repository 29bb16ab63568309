using TorchSharp;
using UKan.Diagnostics;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Parity;

/// <summary>
/// KANLinear against the official layer's tensors (shared/fixtures, README there): every fixture whose json names
/// in_features, configured from the json alone, on both evaluation paths where the fast one applies.
/// </summary>
public class KanLinearParityTests
{
    const double Atol = 1e-5, Rtol = 1e-4;

    static (KanLinear Layer, Dictionary<string, Tensor> T, ReferenceFixtures.Fixture F) Load(string name, KanPath path)
    {
        _ = TestTorch.Runtime;
        var f = ParityFixtures.Get(name);
        var t = f.ReadTensors();
        return (ReferenceFixtures.LoadKanLinear(f, t, path), t, f);
    }

    public static TheoryData<string, KanPath> Cases()
    {
        var data = new TheoryData<string, KanPath>();
        foreach (var name in ParityFixtures.KanLinear())
        {
            data.Add(name, KanPath.General);
            var (layer, _, _) = Load(name, KanPath.Auto);
            if (layer.UsesFastPath) data.Add(name, KanPath.Fast);
        }
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Parity_output(string name, KanPath path)
    {
        var (layer, t, _) = Load(name, path);
        TestTorch.AssertClose(t["y"], layer.call(t["x"]), Atol, Rtol, "y");
    }

    [Theory, MemberData(nameof(ParityFixtures.KanLinear), MemberType = typeof(ParityFixtures))]
    public void Parity_bases(string name)
    {
        var (layer, t, _) = Load(name, KanPath.General);
        TestTorch.AssertClose(t["bases"], layer.BSplines(t["x"]), Atol, Rtol, "bases");
    }

    [Theory, MemberData(nameof(Cases))]
    public void Parity_gradients_of_the_stated_loss(string name, KanPath path)
    {
        var (layer, t, f) = Load(name, path);
        var x = t["x"].clone().requires_grad_(true);
        var y = layer.call(x);
        ReferenceFixtures.KanLinearLoss(f, layer, x, y).backward();
        TestTorch.AssertClose(t["grad.x"], x.grad!, Atol, Rtol, "grad.x");
        foreach (var (pname, p) in layer.named_parameters())
            TestTorch.AssertClose(t[$"grad.{pname}"], p.grad!, Atol, Rtol, $"grad.{pname}");
    }

    [Theory, MemberData(nameof(ParityFixtures.KanLinear), MemberType = typeof(ParityFixtures))]
    public void Parity_regularization_loss(string name)
    {
        var (layer, t, f) = Load(name, KanPath.Auto);
        _ = layer.call(t["x"]);
        var reg = layer.RegularizationLoss(f.Double("regularize_activation", 1.0), f.Double("regularize_entropy", 1.0));
        TestTorch.AssertClose(t["regularization_loss"].reshape(-1), reg.reshape(-1), Atol, Rtol, "regularization_loss");
    }

    [Theory, MemberData(nameof(ParityFixtures.KanLinear), MemberType = typeof(ParityFixtures))]
    public void Parity_update_grid(string name)
    {
        var (layer, t, f) = Load(name, KanPath.Auto);
        layer.UpdateGrid(t["update_grid.x"], f.Double("margin", 0.01));
        TestTorch.AssertClose(t["update_grid.grid"], layer.Grid, Atol, Rtol, "update_grid.grid");
        TestTorch.AssertClose(t["update_grid.spline_weight"], layer.SplineWeight, Atol, Rtol, "update_grid.spline_weight");
        // An adapted grid is not uniform, so the general path must be chosen automatically.
        Assert.False(layer.UsesFastPath);
        TestTorch.AssertClose(t["update_grid.y"], layer.call(t["x"]), Atol, Rtol, "update_grid.y");
    }
}
