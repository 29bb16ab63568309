using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Data;

/// <summary>
/// A dataset held on the compute device: every sample decoded once (in parallel) and kept as 8-bit pixels in one flat
/// device buffer, with the official augmentation (RandomRotate90 → Flip → resize → normalise, the order of
/// Seg_UKAN/train.py) computed there for a whole batch at once. It yields exactly what the host path
/// (<see cref="SegmentationDataset.Batch"/>) yields for the same random draws: rotations, flips and nearest resizes
/// are pure index arithmetic, and the bilinear resize and normalisation repeat the host's float operations one by one
/// (no fused multiply-add), so the results are identical to the bit.
/// </summary>
/// <remarks>
/// How a batch is built without a loop over samples: rot90 and flip map each pixel of the rotated-and-flipped frame
/// affinely back to the stored image (oy = a·ry + b·rx + c, ox = d·ry + e·rx + f with a..e in {−1, 0, 1}), and
/// the resize taps of every sample depend only on its stored size and on whether the rotation swaps its sides, so
/// they are computed once per sample for both cases at load. A batch then needs only its plan (sample, parity and
/// the six coefficients per image), uploaded once per epoch, and a fixed number of gathers and element-wise
/// kernels: no host synchronisation and no host-to-device copy of pixels inside an epoch.
/// </remarks>
public sealed class DeviceDataset : IDisposable
{
    /// <summary>Columns of a plan row: sample index, parity of the rotation, then the six affine coefficients.</summary>
    public const int PlanColumns = 8;

    readonly Dictionary<string, int> index = new();
    readonly long[] heights, widths;
    readonly Tensor images, masks;                 // flat uint8: HWC per sample; classes × H × W per sample
    readonly Tensor imageOffset, maskOffset, storedWidth, storedPixels;   // (N) int64
    readonly Tensor y0, y1, x0, x1, fy, fx;        // bilinear taps (N, 2, H) / (N, 2, W); parity 1 = sides swapped
    readonly Tensor ny, nx;                        // nearest taps of the masks, same layout
    readonly Tensor shift, scale;                  // (C) normalisation
    readonly Tensor channelIndex, full255;         // (C) int64 0..C−1; one float 255 (a divisor tensor, see Fill)

    public Device Device { get; }
    public int Height { get; }
    public int Width { get; }
    public int Channels { get; }
    public int Classes { get; }
    public PreprocessingPreset Preset { get; }
    public int Count => heights.Length;
    /// <summary>Bytes of pixels held on the device.</summary>
    public long PixelBytes { get; }

    /// <summary>Bytes <paramref name="ids"/> would take on the device (pixels only; taps add about 40·(H+W) bytes a sample).</summary>
    public static long BytesNeeded(SegmentationDataset dataset, IEnumerable<string> ids)
    {
        long total = 0;
        foreach (var id in ids)
        {
            var (image, masks) = dataset.Decoded(id);
            total += (long)image.Width * image.Height * (image.Channels + masks.Length);
        }
        return total;
    }

    public DeviceDataset(SegmentationDataset dataset, IReadOnlyList<string> ids, Device device)
    {
        (Device, Height, Width, Channels, Classes, Preset) = (device, dataset.Height, dataset.Width, dataset.Channels, dataset.Classes, dataset.Preset);
        dataset.DecodeAll(ids);
        int n = ids.Count, c = Channels;
        heights = new long[n];
        widths = new long[n];
        var imageOffsets = new long[n];
        var maskOffsets = new long[n];
        long imageBytes = 0, maskBytes = 0;
        for (int i = 0; i < n; i++)
        {
            if (!index.TryAdd(ids[i], i)) throw new ArgumentException($"sample '{ids[i]}' listed twice");
            var (image, _) = dataset.Decoded(ids[i]);
            if (image.Channels != c) throw new ArgumentException($"sample '{ids[i]}' has {image.Channels} channels, expected {c}");
            (heights[i], widths[i]) = (image.Height, image.Width);
            imageOffsets[i] = imageBytes;
            maskOffsets[i] = maskBytes;
            imageBytes += heights[i] * widths[i] * c;
            maskBytes += heights[i] * widths[i] * Classes;
        }
        PixelBytes = imageBytes + maskBytes;
        var imageHost = new byte[imageBytes];
        var maskHost = new byte[maskBytes];
        var ty0 = new long[n * 2 * Height]; var ty1 = new long[n * 2 * Height]; var tfy = new float[n * 2 * Height]; var tny = new long[n * 2 * Height];
        var tx0 = new long[n * 2 * Width]; var tx1 = new long[n * 2 * Width]; var tfx = new float[n * 2 * Width]; var tnx = new long[n * 2 * Width];
        var rule = dataset.Preset == PreprocessingPreset.Official ? ImageOps.NearestRule.OpenCv : ImageOps.NearestRule.Centre;
        Parallel.For(0, n, i =>
        {
            var (image, classMasks) = dataset.Decoded(ids[i]);
            image.Pixels8.CopyTo(imageHost, imageOffsets[i]);
            for (int k = 0; k < Classes; k++) classMasks[k].Pixels8.CopyTo(maskHost, maskOffsets[i] + k * heights[i] * widths[i]);
            for (int parity = 0; parity < 2; parity++)
            {
                // The rotated frame's height and width: a quarter turn swaps the stored sides.
                int rh = (int)(parity == 0 ? heights[i] : widths[i]), rw = (int)(parity == 0 ? widths[i] : heights[i]);
                Fill(ImageOps.Taps(rh, Height), ImageOps.NearestIndices(rh, Height, rule), (i * 2 + parity) * Height, ty0, ty1, tfy, tny);
                Fill(ImageOps.Taps(rw, Width), ImageOps.NearestIndices(rw, Width, rule), (i * 2 + parity) * Width, tx0, tx1, tfx, tnx);
            }
        });
        using (var scope = NewDisposeScope())
        {
            Tensor Up(Tensor host, params long[] shape) => host.reshape(shape).to(device).MoveToOuterDisposeScope();
            images = Up(tensor(imageHost), imageBytes);
            masks = Up(tensor(maskHost), maskBytes);
            imageOffset = Up(tensor(imageOffsets), n);
            maskOffset = Up(tensor(maskOffsets), n);
            storedWidth = Up(tensor(widths), n);
            storedPixels = Up(tensor(heights.Zip(widths, (h, w) => h * w).ToArray()), n);
            (y0, y1, fy, ny) = (Up(tensor(ty0), n, 2, Height), Up(tensor(ty1), n, 2, Height), Up(tensor(tfy), n, 2, Height), Up(tensor(tny), n, 2, Height));
            (x0, x1, fx, nx) = (Up(tensor(tx0), n, 2, Width), Up(tensor(tx1), n, 2, Width), Up(tensor(tfx), n, 2, Width), Up(tensor(tnx), n, 2, Width));
            var (s, k2) = Preprocessing.Normalisation(c, dataset.Preset);
            (shift, scale) = (Up(tensor(s), c), Up(tensor(k2), c));
            channelIndex = Up(tensor(Enumerable.Range(0, c).Select(i => (long)i).ToArray()), c);
            full255 = Up(tensor(new[] { 255f }), 1);
        }
    }

    static void Fill((int[] I0, int[] I1, float[] W) taps, int[] nearest, int at, long[] i0, long[] i1, float[] w, long[] near)
    {
        for (int o = 0; o < nearest.Length; o++)
        {
            i0[at + o] = taps.I0[o];
            i1[at + o] = taps.I1[o];
            w[at + o] = taps.W[o];
            near[at + o] = nearest[o];
        }
    }

    /// <summary>The plan rows of a batch (<see cref="PlanColumns"/> int64 values per image), on the host.</summary>
    public long[] PlanRows(IReadOnlyList<string> ids, IReadOnlyList<AugmentChoice> choices)
    {
        var rows = new long[ids.Count * PlanColumns];
        for (int i = 0; i < ids.Count; i++)
        {
            if (!index.TryGetValue(ids[i], out int s)) throw new ArgumentException($"sample '{ids[i]}' is not on the device");
            var a = Affine(choices[i], heights[s], widths[s]);
            rows[i * PlanColumns] = s;
            rows[i * PlanColumns + 1] = ((choices[i].Rot90 % 4) + 4) % 2;
            Array.Copy(a, 0, rows, i * PlanColumns + 2, 6);
        }
        return rows;
    }

    /// <summary>Uploads the plans of many batches at once: (batches, batch size, <see cref="PlanColumns"/>) on the device.</summary>
    public Tensor UploadPlan(IReadOnlyList<BatchPlan> batches)
    {
        if (batches.Count == 0) return zeros(0, 0, PlanColumns, dtype: int64, device: Device);
        int b = batches[0].Count;
        if (batches.Any(p => p.Count != b)) throw new ArgumentException("every batch of one plan must have the same size");
        var rows = batches.SelectMany(p => PlanRows(p.Ids, p.Choices)).ToArray();
        return tensor(rows).reshape(batches.Count, b, PlanColumns).to(Device);
    }

    /// <summary>
    /// Where each pixel of the rotated-then-flipped frame comes from in the stored image, as
    /// (oy, ox) = (a·ry + b·rx + c, d·ry + e·rx + f); the same mapping as <see cref="Augmentation.Rot90"/> followed by
    /// <see cref="Augmentation.Flip"/> (cv2 flip codes: 0 reverses rows, 1 columns, −1 both).
    /// </summary>
    public static long[] Affine(AugmentChoice choice, long height, long width)
    {
        int k = ((choice.Rot90 % 4) + 4) % 4;
        long rh = k % 2 == 0 ? height : width, rw = k % 2 == 0 ? width : height;
        // Undo the flip: rotated-frame (y, x) = (py·ry + cy, px·rx + cx).
        bool flipRows = choice.FlipCode is int f0 && f0 <= 0, flipCols = choice.FlipCode is int f1 && f1 != 0;
        long py = flipRows ? -1 : 1, cy = flipRows ? rh - 1 : 0, px = flipCols ? -1 : 1, cx = flipCols ? rw - 1 : 0;
        // Undo the rotation (np.rot90, counter-clockwise): stored (sy, sx) from rotated (y, x).
        var (syY, syX, syC, sxY, sxX, sxC) = k switch
        {
            0 => (1L, 0L, 0L, 0L, 1L, 0L),                      // sy = y,         sx = x
            1 => (0L, 1L, 0L, -1L, 0L, width - 1),              // sy = x,         sx = w − 1 − y
            2 => (-1L, 0L, height - 1, 0L, -1L, width - 1),     // sy = h − 1 − y, sx = w − 1 − x
            _ => (0L, -1L, height - 1, 1L, 0L, 0L),             // sy = h − 1 − x, sx = y
        };
        return [syY * py, syX * px, syY * cy + syX * cx + syC, sxY * py, sxX * px, sxY * cy + sxX * cx + sxC];
    }

    /// <summary>
    /// Writes one batch described by <paramref name="plan"/> ((B, <see cref="PlanColumns"/>) int64 on the device) into
    /// <paramref name="images"/> ((B, C, H, W) float32, any memory layout) and <paramref name="targets"/> ((B, classes, H, W)).
    /// </summary>
    public void Fill(Tensor plan, Tensor images, Tensor targets)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long b = plan.shape[0];
        var sample = plan.select(1, 0);
        var parity = plan.select(1, 1);
        Tensor Col(int j) => plan.select(1, 2 + j).view(b, 1, 1);
        var (a, bb, cc, d, e, f) = (Col(0), Col(1), Col(2), Col(3), Col(4), Col(5));
        // Taps of each image for its parity: (B, H) and (B, W).
        Tensor Pick(Tensor taps, long length) =>
            taps.index_select(0, sample).gather(1, parity.view(b, 1, 1).expand(b, 1, length)).view(b, length);
        var width = storedWidth.index_select(0, sample).view(b, 1, 1);
        // Flat index of stored pixel (row ry, column rx of the rotated frame) for each image: (B, H, W).
        Tensor Pixel(Tensor ry, Tensor rx) => (a * ry + bb * rx + cc) * width + (d * ry + e * rx + f);

        var (ry0, ry1, wy) = (Pick(y0, Height).view(b, Height, 1), Pick(y1, Height).view(b, Height, 1), Pick(fy, Height).view(b, Height, 1, 1));
        var (rx0, rx1, wx) = (Pick(x0, Width).view(b, 1, Width), Pick(x1, Width).view(b, 1, Width), Pick(fx, Width).view(b, 1, Width, 1));
        var imageBase = imageOffset.index_select(0, sample).view(b, 1, 1, 1);
        // Nothing here comes from the host: a host-to-device copy from pageable memory would synchronise the stream.
        Tensor Gather(Tensor ry, Tensor rx) =>
            this.images.index_select(0, (imageBase + Pixel(ry, rx).unsqueeze(-1) * Channels + channelIndex).flatten()).view(b, Height, Width, Channels).to(float32);
        // Bilinear as the host computes it: horizontal lerp of two rows, then vertical, each s0 + (s1 − s0)·w.
        var s00 = Gather(ry0, rx0);
        var h0 = s00 + (Gather(ry0, rx1) - s00) * wx;
        var s10 = Gather(ry1, rx0);
        var h1 = s10 + (Gather(ry1, rx1) - s10) * wx;
        var v = h0 + (h1 - h0) * wy;
        // Round half away from zero (MathF.Round(v, AwayFromZero) for v ≥ 0), then clamp to 8 bits.
        var floor = v.floor();
        var pixel = where(v - floor >= 0.5, floor + 1, floor).clamp_(0, 255);
        images.copy_(((pixel - shift) * scale).permute(0, 3, 1, 2));

        // Masks: nearest taps, the same geometry, one plane per class.
        var (ny0, nx0) = (Pick(ny, Height).view(b, 1, Height, 1), Pick(nx, Width).view(b, 1, 1, Width));
        var planes = arange(Classes, dtype: int64, device: Device).view(1, Classes, 1, 1);
        var maskIndex = maskOffset.index_select(0, sample).view(b, 1, 1, 1) + planes * storedPixels.index_select(0, sample).view(b, 1, 1, 1)
            + Pixel(ny0.view(b, Height, 1), nx0.view(b, 1, Width)).unsqueeze(1);
        var m = masks.index_select(0, maskIndex.flatten()).view(b, Classes, Height, Width);
        if (Preset == PreprocessingPreset.Official)
        {
            // The official /255 rule, with the maximum over all classes of the sample (Preprocessing.MasksToChw).
            var max = m.amax([1, 2, 3], keepdim: true);
            // Divided by a device tensor, not a scalar: CUDA divides by a host scalar through its reciprocal, which
            // is not always the host's x / 255f to the bit.
            targets.copy_(where(max < 255, (m > 0).to(float32), m.to(float32) / full255));
        }
        else
        {
            // Mask.Binarize per class: ≥ 128, or > 0 when every value of that mask is below 128.
            var max = m.amax([2, 3], keepdim: true);
            var threshold = max.ge(128).to(int32) * 127 + 1;
            targets.copy_((m.to(int32) >= threshold).to(float32));
        }
    }

    public void Dispose()
    {
        foreach (var t in new[] { images, masks, imageOffset, maskOffset, storedWidth, storedPixels, y0, y1, x0, x1, fy, fx, ny, nx, shift, scale, channelIndex, full255 })
            t.Dispose();
    }
}
