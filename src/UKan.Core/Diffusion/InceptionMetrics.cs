using TorchSharp;
using UKan.Checkpoints;
using UKan.Data;
using UKan.Models.Inception;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Diffusion;

/// <summary>
/// FID and Inception Score of image folders, computed as Diffusion_UKAN/training_scripts/*.sh (@ b20bf63) computes them: pytorch-fid
/// (images to [0, 1], bilinear resize to 299, scaled to [−1, 1], pool3 features of the FID Inception, Fréchet distance
/// of the two Gaussians) and inception-score-pytorch (images normalised to [−1, 1], bilinear resize to 299, softmax of
/// torchvision's Inception v3 logits, 10 splits). The networks' weights are files the user supplies.
/// </summary>
public static class InceptionMetrics
{
    public const string FidWeightsName = "pt_inception-2015-12-05-6726825d.pth";
    public const string FidWeightsUrl = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth";
    public const string IsWeightsName = "inception_v3_google-0cc3c7bd.pth";
    public const string IsWeightsUrl = "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth";

    /// <summary>Builds the <paramref name="variant"/> network and loads the weights file (.pth, or safetensors of the same keys).</summary>
    public static InceptionV3 Load(string path, InceptionVariant variant, string option)
    {
        var (name, url) = variant == InceptionVariant.Fid ? (FidWeightsName, FidWeightsUrl) : (IsWeightsName, IsWeightsUrl);
        var (tensors, _) = WeightsFile.Read(path, option, missingHint: $"download {name} from {url}.");
        var net = new InceptionV3(variant);
        StateDictLoader.Load(net, tensors, path, hint: $"{option} expects {name} ({url})");
        foreach (var t in tensors.Values) t.Dispose();
        return net;
    }

    /// <summary>The image files of a folder (an images/ subfolder when present), sorted by name.</summary>
    public static IReadOnlyList<string> ImageFiles(string folder, string option)
    {
        var (_, files) = ImageFile.ListImagesOf(folder, option);
        if (files.Count < 2) throw new UserError($"{option} {folder}: {files.Count} image(s); FID and IS need at least 2 (the paper uses 2,048 samples).");
        return files;
    }

    /// <summary>pool3 features (N, 2048), float64, as pytorch-fid's get_activations.</summary>
    public static Tensor FidFeatures(InceptionV3 net, IReadOnlyList<string> files, Device device, int batch = 50, Action<int>? progress = null) =>
        Run(net, files, device, batch, progress, x => net.Features(x * 2 - 1));

    /// <summary>Class probabilities (N, 1000), float64, as inception-score-pytorch's get_pred.</summary>
    public static Tensor IsProbabilities(InceptionV3 net, IReadOnlyList<string> files, Device device, int batch = 50, Action<int>? progress = null) =>
        Run(net, files, device, batch, progress, x => F.softmax(net.call((x - 0.5) / 0.5), 1));

    static Tensor Resize(Tensor x) =>
        F.interpolate(x, [InceptionV3.InputSize, InceptionV3.InputSize], mode: InterpolationMode.Bilinear, align_corners: false);

    static Tensor Run(InceptionV3 net, IReadOnlyList<string> files, Device device, int batch, Action<int>? progress, Func<Tensor, Tensor> head)
    {
        net.to(device).eval();
        var rows = new List<Tensor>();
        using var _ = no_grad();
        for (int start = 0; start < files.Count; start += batch)
        {
            using var scope = NewDisposeScope();
            // Images may differ in size: each is brought to 299×299 on its own, then batched. The IS script normalises
            // before resizing; bilinear weights sum to one, so the order changes values only by rounding.
            var images = files.Skip(start).Take(batch).Select(f => Resize(ToTensor(f).to(device))).ToArray();
            rows.Add(head(cat(images, 0)).to(float64).cpu().DetachFromDisposeScope());
            progress?.Invoke(Math.Min(start + batch, files.Count));
        }
        var all = cat(rows, 0);
        foreach (var r in rows) r.Dispose();
        return all;
    }

    /// <summary>(1, 3, H, W) in [0, 1], RGB, as PIL's convert('RGB') then ToTensor.</summary>
    static Tensor ToTensor(string file)
    {
        var img = ImageOps.ToColor8(ImageFile.Read(file), ChannelOrder.Rgb);
        return tensor(img.Pixels8).reshape(1, img.Height, img.Width, 3).permute(0, 3, 1, 2).to(float32).div(255.0);
    }
}
