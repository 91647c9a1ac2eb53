using System.Security.Cryptography;
using System.Text;
using DataWorkspace.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace DataWorkspace.Proxy.Tests;

public sealed class IdentitySigningTests
{
    private static readonly IdentitySigningKey Key = new(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
    private static readonly PlatformIdentity Priya = new("user-1", "priya.shah@trade.example", "Priya Shah", ["admin"], "203.0.113.7");

    [Fact]
    public void A_token_the_proxy_issues_carries_the_whole_identity()
    {
        var tokens = new IdentityToken(Key, TimeProvider.System);

        var verified = tokens.Verify(tokens.Issue(Priya));

        Assert.Null(verified.Failure);
        Assert.Equal(Priya.UserId, verified.Identity!.UserId);
        Assert.Equal(Priya.Email, verified.Identity.Email);
        Assert.Equal(Priya.Name, verified.Identity.Name);
        Assert.Equal(Priya.Roles, verified.Identity.Roles);
        Assert.Equal(Priya.ClientIp, verified.Identity.ClientIp);
    }

    [Fact]
    public void Changing_any_part_of_the_payload_breaks_the_signature()
    {
        var tokens = new IdentityToken(Key, TimeProvider.System);
        var token = tokens.Issue(Priya);
        var payload = token.Split('.')[1];
        var json = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(payload));
        var forgedPayload = System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json.Replace("user-1", "user-2")));

        var verified = tokens.Verify(token.Replace(payload, forgedPayload));

        Assert.Null(verified.Identity);
        Assert.Contains("signature", verified.Failure);
    }

    [Fact]
    public void A_token_signed_with_another_key_is_refused()
    {
        var attacker = new IdentityToken(new IdentitySigningKey(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))), TimeProvider.System);

        var verified = new IdentityToken(Key, TimeProvider.System).Verify(attacker.Issue(Priya));

        Assert.Null(verified.Identity);
    }

    [Fact]
    public void The_token_lives_a_minute_at_most()
    {
        var issuedAt = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-27T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var token = new IdentityToken(Key, issuedAt).Issue(Priya);

        var justInTime = new IdentityToken(Key, new FakeTimeProvider(issuedAt.GetUtcNow().AddSeconds(60))).Verify(token);
        var tooLate = new IdentityToken(Key, new FakeTimeProvider(issuedAt.GetUtcNow().AddSeconds(70))).Verify(token);

        Assert.NotNull(justInTime.Identity);
        Assert.Null(tooLate.Identity);
        Assert.Contains("expired", tooLate.Failure);
    }

    [Fact]
    public void A_key_shorter_than_32_bytes_is_refused_at_start()
    {
        var exception = Assert.Throws<ArgumentException>(() => new IdentitySigningKey(Convert.ToBase64String(new byte[16])));

        Assert.Contains("at least 32 bytes", exception.Message);
    }

    [Fact]
    public void User_hash_is_the_first_8_hex_characters_of_sha256_of_the_user_id()
    {
        var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("user-1")))[..8];

        Assert.Equal(expected, UserHash.Of("user-1"));
        Assert.Equal(expected, Priya.Hash);
    }
}
