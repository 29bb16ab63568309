using Microsoft.AspNetCore.Http;
using UKan.Data;

namespace UKan.Serve;

/// <summary>
/// The image of a request: the raw body, or the first file of a multipart form. Sizes are checked before anything is
/// decoded: the body against the byte limit (413), the image type from its first bytes (415), the pixel count from
/// its header (422, so that a small file claiming an enormous image costs nothing).
/// </summary>
static class ImageUpload
{
    /// <summary>Reads and decodes the request's image, or throws an <see cref="ApiError"/>.</summary>
    public static async Task<Raster> ReadAsync(HttpRequest request, ServeOptions options, CancellationToken cancel)
    {
        var bytes = await ReadBytesAsync(request, options.MaxBodyBytes, cancel);
        if (bytes.Length == 0)
            throw new ApiError(400, "empty_body", "the request holds no image: send the image bytes as the body, or as a file in a multipart form.");
        if (ImageFile.DetectFormat(bytes) == ImageFormat.Unknown)
            throw new ApiError(415, "unsupported_media_type", "the body is not an image: send a PNG, JPEG, BMP or TIFF file.");
        try { return ImageFile.Decode(bytes, "the uploaded image", maxPixels: options.MaxPixels); }
        catch (PixelLimitError e) { throw new ApiError(422, "too_many_pixels", e.Message); }
        catch (UserError e) { throw new ApiError(422, "undecodable_image", e.Message); }
    }

    static async Task<byte[]> ReadBytesAsync(HttpRequest request, long limit, CancellationToken cancel)
    {
        string TooLarge(long? size) => $"the image is {(size is long s ? $"{s:N0} bytes" : "larger than the limit")}; this service takes at most {limit:N0} bytes.";
        // Only a multipart form is read as a form: clients that post raw bytes often label them
        // application/x-www-form-urlencoded (curl --data-binary does).
        bool multipart = request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) == true;
        if (request.ContentLength > limit && !multipart) throw new ApiError(413, "payload_too_large", TooLarge(request.ContentLength));
        try
        {
            if (multipart)
            {
                var form = await request.ReadFormAsync(cancel);
                var file = form.Files.FirstOrDefault()
                    ?? throw new ApiError(400, "no_file", "the multipart form holds no file; add the image as a file field (e.g. curl -F image=@scan.png).");
                if (file.Length > limit) throw new ApiError(413, "payload_too_large", TooLarge(file.Length));
                using var stream = file.OpenReadStream();
                return await ReadLimitedAsync(stream, limit, TooLarge, cancel);
            }
            return await ReadLimitedAsync(request.Body, limit, TooLarge, cancel);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == 413) { throw new ApiError(413, "payload_too_large", TooLarge(null)); }
        catch (InvalidDataException e) when (e.Message.Contains("body length limit", StringComparison.OrdinalIgnoreCase))
        {
            // The form reader's own limits (multipart body length) say so with an InvalidDataException.
            throw new ApiError(413, "payload_too_large", TooLarge(null));
        }
        catch (InvalidDataException e) { throw new ApiError(400, "bad_form", $"the multipart form cannot be read ({e.Message})."); }
        catch (IOException) when (multipart && !cancel.IsCancellationRequested)
        {
            // The form reader's "Unexpected end of Stream": the body ended before the form's closing boundary (a cut
            // or hand-made upload). A client's mistake, not the server's: 400, and nothing in the log.
            throw new ApiError(400, "bad_form", "the multipart form ends before its closing boundary; send the whole form (e.g. curl -F image=@scan.png).");
        }
    }

    static async Task<byte[]> ReadLimitedAsync(Stream body, long limit, Func<long?, string> tooLarge, CancellationToken cancel)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = await body.ReadAsync(chunk, cancel)) > 0)
        {
            if (buffer.Length + n > limit) throw new ApiError(413, "payload_too_large", tooLarge(null));
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }
}
