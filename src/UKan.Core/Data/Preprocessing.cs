namespace UKan.Data;

/// <summary>How images become network inputs.</summary>
public enum PreprocessingPreset
{
    /// <summary>
    /// Exactly the official pipeline (Seg_UKAN/dataset.py + train.py of CUHK-AIM-Group/U-KAN @ b20bf63): BGR channel order (cv2.imread),
    /// ImageNet mean/std applied by channel index to the BGR array, then divided by 255 once more, so inputs lie in
    /// about ±0.01; masks resized with OpenCV's nearest rule and turned into targets by the official /255 rule.
    /// Use it to compare with the paper or to fine-tune official checkpoints.
    /// </summary>
    Official,
    /// <summary>The same augmentation with RGB order and one ImageNet normalisation (inputs of order ±2); binary targets.</summary>
    Standard,
}

/// <summary>Random choices of one training sample's augmentation (RandomRotate90 then Flip, each with p = 0.5).</summary>
public readonly record struct AugmentChoice(int Rot90, int? FlipCode)
{
    public static readonly AugmentChoice None = new(0, null);

    /// <summary>Draws like albumentations: rotate with p .5 (k from {0..3}, 0 included), flip with p .5 (code from {−1, 0, 1}).</summary>
    public static AugmentChoice Draw(SplitMix64 rng)
    {
        int k = rng.NextDouble() < 0.5 ? rng.NextInt(4) : 0;
        int? flip = rng.NextDouble() < 0.5 ? rng.NextInt(3) - 1 : null;
        return new AugmentChoice(k, flip);
    }
}

/// <summary>Turns a decoded sample into network input and target, in CHW float32 layout.</summary>
public static class Preprocessing
{
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    public static ChannelOrder Order(PreprocessingPreset preset) => preset == PreprocessingPreset.Official ? ChannelOrder.Bgr : ChannelOrder.Rgb;

    public static PreprocessingPreset Parse(string text) => text.ToLowerInvariant() switch
    {
        "official" => PreprocessingPreset.Official,
        "standard" => PreprocessingPreset.Standard,
        _ => throw new UserError($"--preprocessing {text}: use official (the reference pipeline, BGR and double normalisation) or standard (RGB, one normalisation)."),
    };

    /// <summary>rot90 → flip → resize (image bilinear, masks nearest), in the official order (before resizing, so
    /// non-square images are rotated and then squashed).</summary>
    public static (Raster Image, Raster[] Masks) Geometry(Raster image, Raster[] masks, AugmentChoice choice, int height, int width, PreprocessingPreset preset)
    {
        Raster Apply(Raster r, bool isMask)
        {
            r = Augmentation.Rot90(r, choice.Rot90);
            if (choice.FlipCode is int code) r = Augmentation.Flip(r, code);
            return isMask
                ? ImageOps.ResizeNearest(r, width, height, preset == PreprocessingPreset.Official ? ImageOps.NearestRule.OpenCv : ImageOps.NearestRule.Centre)
                : ImageOps.ResizeLinear(r, width, height);
        }
        return (Apply(image, false), masks.Select(m => Apply(m, true)).ToArray());
    }

    /// <summary>Writes the image as (C, H, W) floats into <paramref name="destination"/>.</summary>
    public static void ImageToChw(Raster image, PreprocessingPreset preset, Span<float> destination)
    {
        int c = image.Channels, hw = image.Width * image.Height;
        var p = image.Pixels8;
        var (shifts, scales) = Normalisation(c, preset);
        for (int k = 0; k < c; k++)
        {
            float shift = shifts[k], scale = scales[k];
            var dst = destination.Slice(k * hw, hw);
            for (int i = 0; i < hw; i++) dst[i] = (p[i * c + k] - shift) * scale;
        }
    }

    /// <summary>
    /// Per channel, input = (pixel − shift) · scale: albumentations Normalize, (x − mean·255)/(std·255) by channel index
    /// (ImageNet statistics for colour, 0.5/0.5 for grey), and for the official preset the Dataset's second ÷255.
    /// </summary>
    public static (float[] Shift, float[] Scale) Normalisation(int channels, PreprocessingPreset preset)
    {
        bool official = preset == PreprocessingPreset.Official;
        var shift = new float[channels];
        var scale = new float[channels];
        for (int k = 0; k < channels; k++)
        {
            float mean = channels == 3 ? ImageNetMean[k] : 0.5f, std = channels == 3 ? ImageNetStd[k] : 0.5f;
            scale[k] = 1f / (std * 255f) / (official ? 255f : 1f);
            shift[k] = mean * 255f;
        }
        return (shift, scale);
    }

    /// <summary>Writes the class masks as (classes, H, W) targets: the official /255 rule, or 0/1 from the binarised mask.</summary>
    public static void MasksToChw(Raster[] masks, PreprocessingPreset preset, Span<float> destination)
    {
        int hw = masks[0].Width * masks[0].Height;
        if (preset == PreprocessingPreset.Official)
        {
            // The reference takes the maximum over all class channels together (dataset.py step 6).
            byte max = 0;
            foreach (var m in masks) foreach (var v in m.Pixels8) if (v > max) max = v;
            for (int k = 0; k < masks.Length; k++)
            {
                var src = masks[k].Pixels8;
                var dst = destination.Slice(k * hw, hw);
                for (int i = 0; i < hw; i++) dst[i] = max < 255 ? (src[i] > 0 ? 1f : 0f) : src[i] / 255f;
            }
            return;
        }
        for (int k = 0; k < masks.Length; k++)
        {
            var bin = Mask.Binarize(masks[k].Pixels8);
            var dst = destination.Slice(k * hw, hw);
            for (int i = 0; i < hw; i++) dst[i] = bin[i];
        }
    }
}
