using System.Runtime.InteropServices;
using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The KANLinear feature kernels (Native/Kernels/kan_features.cu) and ALL U-KAN's ψ kernels (shared_activation_psi.cu)
/// run on the CPU (<see cref="CudaEmulation"/>, Emulation/kan_harness.cpp: the geometry of <see cref="KanFeatureKernels"/>
/// and <see cref="PsiKernels"/>) against the torch formulations they replace, so that a change to either is checked
/// without a GPU. (<c>ukan selftest --device cuda</c> compares the same on one.)
/// </summary>
public class KanKernelsEmulationTests
{
    /// <summary>U-KAN's grid (5 intervals, K = 8) and a finer one (K = 13), over a count of inputs whose last block is partly empty.</summary>
    [Theory]
    [InlineData(5)]
    [InlineData(10)]
    public void The_feature_kernels_compute_the_torch_formulation(int gridSize)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var knots = BSplineBasis.TryUniform(BSplineBasis.MakeKnots(gridSize, 3, -1, 1), 3)!.Value;
        var gen = new Generator(23);
        var x = randn(37, 29, generator: gen) * 1.7;          // spans the grid and beyond it on both sides
        var reference = KanFeatures.Torch.Instance.Forward(x, knots);
        var gfeat = randn(reference.shape, generator: gen);
        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "x", x);
        CudaEmulation.Write(dir, "gfeat", gfeat);
        CudaEmulation.Run("kan_harness", "features", dir, x.numel(), knots.BasisCount, CudaEmulation.Text((float)knots.First),
            CudaEmulation.Text((float)(1.0 / knots.Step)), KanFeatureKernels.TileBlock(knots.BasisCount));
        TestTorch.AssertClose(reference, CudaEmulation.Read(dir, "feat", reference.shape), 1e-6, 1e-5, "features");
        TestTorch.AssertClose(KanFeatures.Torch.Instance.BackwardInput(x, gfeat, knots), CudaEmulation.Read(dir, "gx", x.shape), 1e-5, 1e-4,
            "dL/dx");
    }

    /// <summary>
    /// The bfloat16 entries (bf16 autocast): features stored as bf16 from a float32 input (the tokens after a layer
    /// norm) or a bf16 one (after a batch norm + ReLU in bf16), and dL/dx from a bf16 gradient of the features, against
    /// the torch formulation in float32 on the same values: each rounded once (within half a bf16 step). dL/dx is
    /// stored as the input: float32 for a float32 input.
    /// </summary>
    [Theory]
    [InlineData("to_bf16")]
    [InlineData("bf16")]
    public void The_feature_kernels_store_bf16_rounded_once(string storage)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var knots = BSplineBasis.TryUniform(BSplineBasis.MakeKnots(5, 3, -1, 1), 3)!.Value;
        var gen = new Generator(31);
        var x = randn(37, 29, generator: gen) * 1.7;
        if (storage == "bf16") x = x.to(bfloat16).to(float32);                       // values bf16 holds
        var gfeat = randn(37, 29 * (knots.BasisCount + 1), generator: gen).to(bfloat16).to(float32);
        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "x", x);
        CudaEmulation.Write(dir, "gfeat", gfeat);
        CudaEmulation.Run("kan_harness", "features", dir, x.numel(), knots.BasisCount, CudaEmulation.Text((float)knots.First),
            CudaEmulation.Text((float)(1.0 / knots.Step)), KanFeatureKernels.TileBlock(knots.BasisCount), storage);
        var reference = KanFeatures.Torch.Instance.Forward(x, knots);
        TestTorch.AssertRoundedToBf16(reference, CudaEmulation.Read(dir, "feat", reference.shape), 1e-7, "features");
        var gx = KanFeatures.Torch.Instance.BackwardInput(x, gfeat, knots);
        if (storage == "bf16")
            TestTorch.AssertRoundedToBf16(gx, CudaEmulation.Read(dir, "gx", x.shape), 1e-6, "dL/dx");
        else
            TestTorch.AssertClose(gx, CudaEmulation.Read(dir, "gx", x.shape), 1e-5, 1e-4, "dL/dx");
    }

    [Theory]
    [InlineData(SplineGradient.GradFree)]
    [InlineData(SplineGradient.ExactRecompute)]
    public void The_psi_kernels_compute_the_torch_formulation(SplineGradient gradient)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var psi = new SharedActivation(new SharedActivationOptions { Gradient = gradient });
        var gen = new Generator(29);
        using (no_grad())
        {
            psi.Coefficients.copy_(randn(psi.BasisCount, generator: gen) * 0.3);
            psi.BaseScale!.fill_(0.7);
            psi.SplineScale!.fill_(1.3);
        }
        var u = (randn(2, 7, 9, 11, generator: gen) * 1.6).requires_grad_(true);
        var g = randn(u.shape, generator: gen);
        var y = psi.call(u);
        var grads = autograd.grad([(y * g).sum()], [u, psi.Coefficients, psi.BaseScale!, psi.SplineScale!]);
        var knots = BSplineBasis.TryUniform(psi.Knots(CPU), 3)!.Value;

        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "u", u.detach());
        CudaEmulation.Write(dir, "g", g);
        CudaEmulation.Write(dir, "c", psi.Coefficients.detach());
        CudaEmulation.Write(dir, "wb", psi.BaseScale!.detach());
        CudaEmulation.Write(dir, "ws", psi.SplineScale!.detach());
        long n = u.numel();
        CudaEmulation.Run("kan_harness", "psi", dir, n, knots.BasisCount, CudaEmulation.Text((float)knots.First),
            CudaEmulation.Text((float)(1.0 / knots.Step)), gradient == SplineGradient.ExactRecompute ? 1 : 0, PsiKernels.BackwardGrid(n));
        TestTorch.AssertClose(y, CudaEmulation.Read(dir, "out", u.shape), 1e-6, 1e-5, "ψ(u)");
        TestTorch.AssertClose(grads[0], CudaEmulation.Read(dir, "gu", u.shape), 1e-6, 1e-5, "dL/du");
        TestTorch.AssertClose(cat([grads[1], grads[2], grads[3]]), CudaEmulation.Read(dir, "acc", psi.BasisCount + 2), 1e-4, 1e-4,
            "dL/dc, dL/dw_b, dL/dw_s");
    }

    /// <summary>
    /// KANLinear's fused weight and its backward for three layers in one launch each way (a model's batch): with the
    /// standalone spline scaler and without (s = 1), one layer without a gradient (skipped backward), sizes that put
    /// layer boundaries inside blocks and warps.
    /// </summary>
    [Fact]
    public void The_weight_kernels_compute_the_torch_formulation_for_every_layer_of_a_launch()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(31);
        (int O, int I, int K, bool Scaled, bool Grad)[] layers = [(19, 23, 8, true, true), (5, 7, 8, false, true), (13, 11, 3, true, false), (9, 30, 8, false, true)];
        var dir = CudaEmulation.Folder();
        var parts = new List<(KanWeightParts Parts, Tensor? Grad)>();
        for (int l = 0; l < layers.Length; l++)
        {
            var (o, i, k, scaled, grad) = layers[l];
            var p = new KanWeightParts(randn(o, i, generator: gen), randn(o, i, k, generator: gen), scaled ? randn(o, i, generator: gen) : null);
            var gw = grad ? randn(o, i * (k + 1), generator: gen) : null;
            CudaEmulation.Write(dir, $"base{l}", p.BaseWeight);
            CudaEmulation.Write(dir, $"spline{l}", p.SplineWeight);
            if (p.Scaler is not null) CudaEmulation.Write(dir, $"scaler{l}", p.Scaler);
            if (gw is not null) CudaEmulation.Write(dir, $"gw{l}", gw);
            parts.Add((p, gw));
        }
        CudaEmulation.Run("kan_harness", ["weight", dir, CudaKernelModule.Block, .. layers.Select(l => $"{l.O * l.I}:{l.K}:{(l.Scaled ? 1 : 0)}:{(l.Grad ? 1 : 0)}")]);

        for (int l = 0; l < layers.Length; l++)
        {
            var (p, gw) = parts[l];
            var (o, i, k, scaled, grad) = layers[l];
            TestTorch.AssertClose(KanWeight.Torch.Forward(p), CudaEmulation.Read(dir, $"w{l}", o, i * (k + 1)), 0, 0, $"W of layer {l}");
            var gradBase = CudaEmulation.Read(dir, $"gbase{l}", o, i);
            if (gw is null)
            {
                Assert.True(gradBase.isnan().all().item<bool>(), $"layer {l} has no gradient: nothing is written");
                continue;
            }
            var (gb, gs, gsc) = KanWeight.Torch.Backward(gw, p, KanWeightNeeds.All);
            TestTorch.AssertClose(gb!, gradBase, 0, 0, $"dL/dW_b of layer {l}");
            TestTorch.AssertClose(gs!, CudaEmulation.Read(dir, $"gspline{l}", o, i, k), 0, 0, $"dL/dW_s of layer {l}");
            if (scaled) TestTorch.AssertClose(gsc!, CudaEmulation.Read(dir, $"gscaler{l}", o, i), 1e-5, 1e-5, $"dL/ds of layer {l}");
            else Assert.Null(gsc);
        }
    }

    /// <summary>The table the weight kernels take by value has the CUDA struct's layout: every field's offset and the size.</summary>
    [Fact]
    public void The_weight_table_has_the_layout_of_the_CUDA_struct()
    {
        _ = TestTorch.Runtime;
        var dir = CudaEmulation.Folder();
        CudaEmulation.Run("kan_harness", "weight-layout", dir);
        var cuda = CudaEmulation.Read(dir, "layout", 11).data<float>().Select(v => (long)v).ToArray();
        var fields = KanWeightKernels.KanWeightTable.Fields;
        var ours = fields.Select(f => (long)Marshal.OffsetOf<KanWeightKernels.KanWeightTable>(f)).Append(Marshal.SizeOf<KanWeightKernels.KanWeightTable>()).ToArray();
        Assert.Equal(cuda, ours);
    }
}
