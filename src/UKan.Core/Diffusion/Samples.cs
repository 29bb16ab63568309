using TorchSharp;
using UKan.Data;
using static TorchSharp.torch;

namespace UKan.Diffusion;

/// <summary>Sampling images from a trained noise predictor.</summary>
public static class Samples
{
    /// <summary>
    /// <paramref name="count"/> images as 8-bit RGB rasters: DDIM with <paramref name="ddimSteps"/> steps, or ancestral
    /// over all T when null. <paramref name="onStep"/> is called after every model evaluation (see <see cref="Ddpm.Evaluations"/>).
    /// The model's train/eval mode is restored afterwards.
    /// </summary>
    public static List<Raster> Generate(nn.Module<Tensor, Tensor, Tensor> model, Ddpm ddpm, int count, Device device, int? ddimSteps = null,
        long seed = 0, int batch = 64, Action? onStep = null)
    {
        bool wasTraining = model.training;
        model.eval();
        var result = new List<Raster>();
        var generator = new Generator((ulong)seed);       // CPU: see Ddpm.Noise
        for (int done = 0; done < count; done += batch)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batch, count - done);
            const int size = DiffusionTrainer.ImageSize;
            long[] shape = [n, 3, size, size];
            Tensor Predict(Tensor x, Tensor t) => model.call(x, t);
            Action<int>? step = onStep is null ? null : _ => onStep();
            var x0 = ddimSteps is int s ? ddpm.SampleDdim(Predict, shape, device, s, generator: generator, progress: step) : ddpm.Sample(Predict, shape, device, generator, step);
            // x·0.5 + 0.5 into [0, 1], then to bytes with rounding, as torchvision's save_image.
            var bytes = (x0 * 0.5 + 0.5).mul(255).add(0.5).clamp(0, 255).to(ScalarType.Byte).permute(0, 2, 3, 1).contiguous().cpu();
            var flat = bytes.data<byte>().ToArray();
            for (int i = 0; i < n; i++) result.Add(Raster.Create8(size, size, 3, flat.AsSpan(i * size * size * 3, size * size * 3).ToArray()));
        }
        model.train(wasTraining);
        return result;
    }

    public static Raster Grid(IReadOnlyList<Raster> images) => UKan.Plots.Overlays.Grid(images, columns: (int)Math.Ceiling(Math.Sqrt(images.Count)));
}
