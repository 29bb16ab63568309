using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace UKan.Serve;

/// <summary>
/// The optional shared secret of the /v1 endpoints, sent as <c>X-API-Key: KEY</c> or <c>Authorization: Bearer KEY</c>.
/// Compared in constant time on SHA-256 digests, so that neither the content nor the length of the key leaks
/// through response timing.
/// </summary>
sealed class ApiKey(string key)
{
    readonly byte[] expected = SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Throws a 401 <see cref="ApiError"/> unless the request carries the key.</summary>
    public void Check(HttpRequest request)
    {
        string? given = request.Headers["X-API-Key"].FirstOrDefault();
        if (given is null && request.Headers.Authorization.FirstOrDefault() is string auth && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            given = auth["Bearer ".Length..].Trim();
        if (given is null)
            throw new ApiError(401, "unauthorized", "this service needs an API key: send it as the X-API-Key header (or Authorization: Bearer KEY).");
        if (!CryptographicOperations.FixedTimeEquals(expected, SHA256.HashData(Encoding.UTF8.GetBytes(given))))
            throw new ApiError(401, "unauthorized", "wrong API key.");
    }
}
