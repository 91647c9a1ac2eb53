using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace DataWorkspace.DevIdentity;

/// <summary>
/// The provider's signing and encryption keys. With <c>DevIdentity:StateDirectory</c> they are made once and kept
/// there (readable by their owner only), so tokens the provider gave (the proxy's refresh tokens) stay valid when a
/// local run restarts; otherwise they live as long as the process.
/// </summary>
public static class ProviderKeys
{
    public static OpenIddictServerBuilder AddProviderKeys(this OpenIddictServerBuilder server, string? stateDirectory)
    {
        if (string.IsNullOrEmpty(stateDirectory)) return server.AddEphemeralEncryptionKey().AddEphemeralSigningKey();

        Directory.CreateDirectory(stateDirectory);
        var signing = RSA.Create();
        signing.ImportFromPem(Kept(Path.Combine(stateDirectory, "signing-key.pem"), () =>
        {
            using var made = RSA.Create(2048);
            return made.ExportPkcs8PrivateKeyPem();
        }));
        var encryption = Convert.FromBase64String(Kept(Path.Combine(stateDirectory, "encryption-key"), () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));
        var signingKey = new RsaSecurityKey(signing) { KeyId = Convert.ToHexStringLower(SHA256.HashData(signing.ExportSubjectPublicKeyInfo()))[..16] };
        return server.AddSigningKey(signingKey).AddEncryptionKey(new SymmetricSecurityKey(encryption));
    }

    private static string Kept(string path, Func<string> make)
    {
        if (File.Exists(path)) return File.ReadAllText(path);
        var value = make();
        File.WriteAllText(path, value);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return value;
    }
}
