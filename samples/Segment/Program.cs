// Segments one image with a trained U-KAN model and writes the mask as a PNG (255 = foreground, 0 = background).
//
//   Segment MODEL IMAGE MASK.png [OVERLAY.png]
//
// MODEL is a run folder of "ukan train" (or of Trainer.Start), a .safetensors weights file, or an official U-KAN
// .pth checkpoint (then set UKAN_PRESET=paper, large or tiny, the embed dims it was trained with).
using UKan;

if (args.Length is < 3 or > 4)
{
    Console.Error.WriteLine("usage: Segment MODEL IMAGE MASK.png [OVERLAY.png]");
    return 2;
}
var (model, image, maskPath) = (args[0], args[1], args[2]);
var overlayPath = args.Length > 3 ? args[3] : null;
try
{
    foreach (var path in new[] { maskPath, overlayPath })
        if (path is not null && File.Exists(path)) throw new UserError($"{path} exists; choose another name (it is not replaced).");

    var options = new SegmenterOptions
    {
        Preset = Environment.GetEnvironmentVariable("UKAN_PRESET"),
        OnWarning = warning => Console.Error.WriteLine($"warning: {warning}"),
    };
    using var segmenter = Segmenter.Load(model, options);
    SegmentationResult result = segmenter.Predict(image);

    File.WriteAllBytes(maskPath, result.MaskPng());
    if (overlayPath is not null) File.WriteAllBytes(overlayPath, result.OverlayPng());
    Console.WriteLine($"{maskPath}: {result.Width}x{result.Height}, {result.ForegroundPixels} foreground pixels ({result.ForegroundFraction:P1})");
    Console.WriteLine($"model: {segmenter.Info.Description} on {segmenter.Info.Device}, UKan.Core {segmenter.Info.Version}");
    return 0;
}
catch (UserError e)
{
    // Errors a user can fix (a missing file, a damaged checkpoint, an image that is not one) come as UserError.
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
