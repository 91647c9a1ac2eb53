using System.Security.Cryptography;
using System.Text;

namespace DataWorkspace.Contracts;

/// <summary>
/// The first 8 hex characters of SHA-256 over the user's id (the OIDC <c>sub</c>). Used alike in tool host names,
/// database schema names and S3 prefixes, so one user's things can be found from their id alone.
/// </summary>
public static class UserHash
{
    // The proxy asks for the same few users' hashes on every request: the last one per thread is kept.
    [ThreadStatic] private static (string UserId, string Hash)? last;

    public static string Of(string userId)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        if (last is { } cached && string.Equals(cached.UserId, userId, StringComparison.Ordinal)) return cached.Hash;
        var hash = Compute(userId);
        last = (userId, hash);
        return hash;
    }

    private static string Compute(string userId)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(userId), digest);
        return Convert.ToHexStringLower(digest[..4]);
    }
}
