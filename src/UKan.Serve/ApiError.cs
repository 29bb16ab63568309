using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace UKan.Serve;

/// <summary>
/// The one form of every error the service sends: a status code and a JSON body
/// <c>{"error": {"status": 415, "code": "unsupported_media_type", "message": "..."}}</c>, never a stack trace.
/// </summary>
public sealed class ApiError(int status, string code, string message) : Exception(message)
{
    /// <summary>The HTTP status code.</summary>
    public int Status { get; } = status;

    /// <summary>A stable machine-readable name of the error.</summary>
    public string Code { get; } = code;

    internal static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The JSON body for this error.</summary>
    public object Body => new { error = new { status = Status, code = Code, message = Message } };

    /// <summary>Writes the error as the response (headers must not have been sent).</summary>
    public Task WriteAsync(HttpContext context)
    {
        context.Response.StatusCode = Status;
        if (Status == StatusCodes.Status503ServiceUnavailable) context.Response.Headers.RetryAfter = "1";
        if (Status == StatusCodes.Status401Unauthorized) context.Response.Headers.WWWAuthenticate = "Bearer";
        return context.Response.WriteAsJsonAsync(Body, Json);
    }

    /// <summary>The code for a status the framework set on its own (no route, wrong method, ...).</summary>
    public static string CodeOf(int status) => status switch
    {
        400 => "bad_request",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable_image",
        503 => "overloaded",
        _ => status >= 500 ? "internal_error" : "error",
    };
}
