using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// The KAN products split along their reduction (<see cref="SplitReduction"/>): the split product equals the single
/// one for plain and transposed operands (the weight gradient's dyᵀ is a transposed view) and views that start inside
/// their storage; the choice keeps a split only when it is clearly faster; on the CPU nothing is split.
/// </summary>
public class SplitReductionTests
{
    static SplitReductionTests() => _ = TestTorch.Runtime;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void A_split_product_is_the_product(int splits)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(3);
        var a = randn(24, 40, dtype: float64, generator: gen);
        var b = randn(40, 12, dtype: float64, generator: gen);
        TestTorch.AssertClose(a.matmul(b), SplitReduction.Product(a, b, splits), 1e-12, 1e-12, "a b");
        // dW = dyᵀ F: a transposed view, and operands that start inside a larger storage.
        var dy = randn(40, 24, dtype: float64, generator: gen);
        var big = randn(50, 13, dtype: float64, generator: gen);
        var f = big.narrow(0, 7, 40).narrow(1, 1, 12);
        TestTorch.AssertClose(dy.t().matmul(f), SplitReduction.Product(dy.t(), f, splits), 1e-12, 1e-12, "dyᵀ F on views");
    }

    [Fact]
    public void A_reduction_that_does_not_divide_is_refused() =>
        Assert.Throws<ArgumentException>(() => SplitReduction.Product(ones(3, 10), ones(10, 2), 4));

    [Fact]
    public void A_split_is_kept_only_when_it_is_clearly_faster()
    {
        Assert.Equal(4, SplitReduction.Choose([1, 2, 4, 8], s => s switch { 1 => 1.0, 2 => 0.95, 4 => 0.75, _ => 1.2 }));
        Assert.Equal(1, SplitReduction.Choose([1, 2, 4], s => s switch { 1 => 1.0, 2 => 0.95, _ => 0.93 }));   // under 10 %
        Assert.Equal(1, SplitReduction.Choose([1, 2], s => s == 1 ? 0.5 : 0.9));
        Assert.Equal(1, SplitReduction.Choose([2, 4], s => 0.1));                                                // no single product timed
    }

    [Fact]
    public void A_plan_on_our_kernels_is_kept_only_when_it_is_clearly_faster_than_the_single_cublas_product()
    {
        var ours = new ProductPlan(new KanProductTile(128, 64), 4);
        var (split, single) = (new ProductPlan(null, 2), ProductPlan.Single);
        Assert.Equal(ours, SplitReduction.Choose([single, split, ours], single, p => p == ours ? 0.8 : p == split ? 0.85 : 1.0));
        Assert.Equal(single, SplitReduction.Choose([single, ours], single, p => p == ours ? 0.95 : 1.0));   // under 10 %
        Assert.Equal(single, SplitReduction.Choose([split, ours], single, _ => 0.1));                      // no single product timed
        Assert.Equal("ours 128x64 in 4", ours.ToString());
        Assert.Equal("cuBLAS in 1", single.ToString());
    }

    [Fact]
    public void The_default_plans_add_the_wide_tensor_core_tiles_to_large_products_only()
    {
        var (tc, tc32, cores) = (new KanProductTile(128, 64, Tf32x3: true), new KanProductTile(64, 32, Tf32x3: true), new KanProductTile(128, 64));
        const long large = 8192, small = 2048;   // 8,192 × 2,304 × 256 = 4.8e9 multiply-adds; 2,048 × 1,440 × 160 = 4.7e8
        bool Large(ProductPlan p) => SplitReduction.Considered(p, large, 2304, 256);
        bool Small(ProductPlan p) => SplitReduction.Considered(p, small, 1440, 160);
        Assert.True(Large(ProductPlan.Single) && Small(new ProductPlan(null, 4)));
        Assert.True(Large(new(tc, 1)) && Large(new(tc, 16)));
        Assert.False(Small(new(tc, 1)));                                  // below 2^30 multiply-adds
        Assert.False(Large(new(tc, 2)) || Large(new(tc32, 1)) || Large(new(cores, 1)));
        Assert.True(SplitReduction.WithKernels(true, () => Small(new(tc32, 2)) && Small(new(cores, 3))));
        Assert.False(SplitReduction.WithTf32x3(false, () => Large(new(tc, 1))));
        Assert.True(SplitReduction.WithTf32x3(false, () => SplitReduction.WithKernels(true, () => Small(new(cores, 1)) && !Small(new(tc, 1)))));
    }

    [Fact]
    public void On_the_cpu_nothing_is_split()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(1, SplitReduction.SplitFor(ones(64, 4096), ones(4096, 32)));
        Assert.Equal(ProductPlan.Single, SplitReduction.WithKernels(true, () => SplitReduction.PlanFor(ones(64, 4096), ones(4096, 32))));
    }
}
