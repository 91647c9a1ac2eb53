using DataWorkspace.Web.Storage;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Http;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// The local S3 gateway's reading of requests and of the tools' session policy, which it evaluates as AWS would (the
/// emulator evaluates nothing): each S3 operation's permissions, and the policy's answer to them.
/// </summary>
public sealed class S3GatewayTests
{
    private static readonly AccessPolicy Tool = AccessPolicy.Parse(ToolCredentials.SessionPolicy("files", ["home/1a2b3c4d/", "teams/analysts/"]));

    private static S3Permissions Needs(string method, string target, Dictionary<string, string>? headers = null, string? body = null)
    {
        var question = target.IndexOf('?');
        var (path, query) = question < 0 ? (target, "") : (target[..question], target[question..]);
        var dictionary = new HeaderDictionary();
        foreach (var (name, value) in headers ?? []) dictionary[name] = value;
        return S3Permissions.Of(method, path, S3Permissions.Query(query), dictionary, body);
    }

    private static bool Allowed(S3Permissions needs) => needs.Unsupported is null && needs.Checks.All(Tool.Allows);

    [Theory]
    [InlineData("GET", "/files?list-type=2&prefix=home%2F1a2b3c4d%2F&delimiter=%2F&encoding-type=url", true)]
    [InlineData("GET", "/files?list-type=2&prefix=home%2F1a2b3c4d%2Fsub%2F", true)]
    [InlineData("GET", "/files?list-type=2&prefix=teams%2Fanalysts%2F", true)]
    [InlineData("GET", "/files?list-type=2&prefix=home%2F", false)]
    [InlineData("GET", "/files?list-type=2&prefix=home%2F1a2b3c4e%2F", false)]
    [InlineData("GET", "/files?list-type=2&prefix=", false)]
    [InlineData("GET", "/files?list-type=2", false)]
    [InlineData("GET", "/files?prefix=home%2F1a2b3c4d%2F&prefix=home%2Fother%2F", false)]
    [InlineData("GET", "/files?versions&prefix=home%2F1a2b3c4d%2F", false)]
    [InlineData("HEAD", "/files", false)]
    [InlineData("GET", "/", false)]
    [InlineData("GET", "/files/home/1a2b3c4d/notes%20one.txt?x-id=GetObject", true)]
    [InlineData("HEAD", "/files/home/1a2b3c4d/notes.txt", true)]
    [InlineData("GET", "/files/home/1a2b3c4d/notes.txt?versionId=3", false)]
    [InlineData("GET", "/files/home/1a2b3c4d/notes.txt?acl", false)]
    [InlineData("GET", "/files/home/1a2b3c4e/notes.txt", false)]
    [InlineData("GET", "/files/home/1a2b3c4d/../1a2b3c4e/notes.txt", false)]
    [InlineData("GET", "/files/home/1a2b3c4d/%2E%2E/1a2b3c4e/notes.txt", false)]
    [InlineData("GET", "/other-bucket/home/1a2b3c4d/notes.txt", false)]
    [InlineData("PUT", "/files/teams/analysts/report.csv", true)]
    [InlineData("PUT", "/files/teams/analysts2/report.csv", false)]
    [InlineData("PUT", "/files/home/1a2b3c4d/big.bin?partNumber=2&uploadId=abc", true)]
    [InlineData("POST", "/files/home/1a2b3c4d/big.bin?uploads", true)]
    [InlineData("POST", "/files/home/1a2b3c4d/big.bin?uploadId=abc", true)]
    [InlineData("GET", "/files/home/1a2b3c4d/big.bin?uploadId=abc", true)]
    [InlineData("DELETE", "/files/home/1a2b3c4d/big.bin?uploadId=abc", true)]
    [InlineData("DELETE", "/files/home/1a2b3c4d/notes.txt", true)]
    [InlineData("DELETE", "/files/home/1a2b3c4e/notes.txt", false)]
    [InlineData("PUT", "/files/home/1a2b3c4d/notes.txt?tagging", false)]
    [InlineData("PUT", "/files", false)]
    [InlineData("DELETE", "/files", false)]
    [InlineData("POST", "/files/home/1a2b3c4d/notes.txt?restore", false)]
    public void Each_operation_is_allowed_only_under_the_tools_own_prefixes(string method, string target, bool allowed) =>
        Assert.Equal(allowed, Allowed(Needs(method, target)));

    [Fact]
    public void A_copy_needs_to_read_its_source_and_settings_in_headers_need_their_own_permission()
    {
        var own = Needs("PUT", "/files/home/1a2b3c4d/copy.txt", new() { ["x-amz-copy-source"] = "files/home/1a2b3c4d/notes%20one.txt" });
        Assert.Equal("CopyObject", own.Operation);
        Assert.Contains(own.Checks, c => c is { Action: "s3:GetObject", Resource: "arn:aws:s3:::files/home/1a2b3c4d/notes one.txt" });
        Assert.True(Allowed(own));
        Assert.False(Allowed(Needs("PUT", "/files/home/1a2b3c4d/copy.txt", new() { ["x-amz-copy-source"] = "/files/home/1a2b3c4e/secret.txt" })));
        Assert.False(Allowed(Needs("PUT", "/files/home/1a2b3c4d/copy.txt", new() { ["x-amz-copy-source"] = "/files/home/1a2b3c4d/../1a2b3c4e/secret.txt" })));
        Assert.False(Allowed(Needs("PUT", "/files/home/1a2b3c4d/copy.txt?partNumber=1&uploadId=u", new() { ["x-amz-copy-source"] = "files/home/1a2b3c4e/s.txt?versionId=2" })));
        Assert.False(Allowed(Needs("PUT", "/files/home/1a2b3c4d/public.txt", new() { ["x-amz-acl"] = "public-read" })));
        Assert.False(Allowed(Needs("PUT", "/files/home/1a2b3c4d/tagged.txt", new() { ["x-amz-tagging"] = "a=b" })));
    }

    [Fact]
    public void A_multi_object_delete_is_allowed_only_when_every_key_is()
    {
        const string Own = """<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>home/1a2b3c4d/a</Key></Object><Object><Key>teams/analysts/b</Key></Object></Delete>""";
        Assert.True(S3Permissions.IsDeleteObjects("POST", "/files", S3Permissions.Query("?delete")));
        Assert.True(Allowed(Needs("POST", "/files?delete", body: Own)));
        Assert.False(Allowed(Needs("POST", "/files?delete", body: Own.Replace("teams/analysts/b", "home/1a2b3c4e/b"))));
        Assert.False(Allowed(Needs("POST", "/files?delete", body: Own.Replace("<Key>home/1a2b3c4d/a</Key>", "<Key>home/1a2b3c4d/a</Key><VersionId>1</VersionId>"))));
        Assert.False(Allowed(Needs("POST", "/files?delete", body: "<!DOCTYPE d [<!ENTITY x \"home/1a2b3c4e/b\">]><Delete><Object><Key>&x;</Key></Object></Delete>")));
        Assert.False(Allowed(Needs("POST", "/files?delete", body: "not xml")));
    }

    [Fact]
    public void The_caller_is_read_from_each_way_of_signing()
    {
        static (string, string?)? Caller(Dictionary<string, string> headers, string query = "")
        {
            var dictionary = new HeaderDictionary();
            foreach (var (name, value) in headers) dictionary[name] = value;
            return S3Gateway.Caller(dictionary, S3Permissions.Query(query));
        }

        Assert.Equal(("ASIA1", "token"), Caller(new()
        {
            ["Authorization"] = "AWS4-HMAC-SHA256 Credential=ASIA1/20261204/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
            ["X-Amz-Security-Token"] = "token",
        }));
        Assert.Equal(("ASIA2", "token"), Caller(new() { ["Authorization"] = "AWS ASIA2:signature", ["x-amz-security-token"] = "token" }));
        Assert.Equal(("ASIA3", "token"), Caller([], "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA3%2F20261204%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=token"));
        Assert.Equal(("ASIA4", "token"), Caller([], "?AWSAccessKeyId=ASIA4&Signature=x&x-amz-security-token=token&Expires=1796398462"));
        Assert.Null(Caller([]));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1796398462), S3Permissions.PresignedUntil(S3Permissions.Query("?Expires=1796398462")));
        Assert.Equal(new DateTimeOffset(2026, 12, 4, 15, 0, 0, TimeSpan.Zero),
            S3Permissions.PresignedUntil(S3Permissions.Query("?X-Amz-Date=20261204T140000Z&X-Amz-Expires=3600")));
    }

    [Theory]
    [InlineData("00:14:59", false)]
    [InlineData("00:15:00", true)]
    [InlineData("12:00:00", true)]
    [InlineData("12:00:01", false)]
    public void A_credential_lifetime_outside_what_STS_gives_is_refused_at_start(string lifetime, bool valid)
    {
        var options = new StorageOptions { Bucket = "files", CredentialLifetime = TimeSpan.Parse(lifetime, System.Globalization.CultureInfo.InvariantCulture) };
        var problems = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        Assert.Equal(valid, System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), problems, validateAllProperties: true));
        if (!valid) Assert.Contains("between 00:15:00 and 12:00:00", Assert.Single(problems).ErrorMessage);
    }

    [Fact]
    public void A_policy_is_evaluated_as_IAM_does()
    {
        var policy = AccessPolicy.Parse("""
            {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/data/*"},
              {"Effect": "Deny", "Action": "S3:GETOBJECT", "Resource": "arn:aws:s3:::b/data/secret-?.csv"},
              {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {"StringNotLike": {"s3:prefix": "private/*"}}}
            ]}
            """);
        Assert.True(policy.Allows(new("s3:GetObject", "arn:aws:s3:::b/data/x.csv")));
        Assert.True(policy.Allows(new("s3:GetObjectTagging", "arn:aws:s3:::b/data/x.csv")));
        Assert.False(policy.Allows(new("s3:GetObject", "arn:aws:s3:::b/data/secret-1.csv")));
        Assert.True(policy.Allows(new("s3:GetObject", "arn:aws:s3:::b/data/secret-10.csv")));
        Assert.False(policy.Allows(new("s3:GetObject", "arn:aws:s3:::b/DATA/x.csv")));
        Assert.False(policy.Allows(new("s3:PutObject", "arn:aws:s3:::b/data/x.csv")));
        Assert.True(policy.Allows(new("s3:ListBucket", "arn:aws:s3:::b", new Dictionary<string, string> { ["s3:prefix"] = "public/" })));
        Assert.True(policy.Allows(new("s3:ListBucket", "arn:aws:s3:::b")));
        Assert.False(policy.Allows(new("s3:ListBucket", "arn:aws:s3:::b", new Dictionary<string, string> { ["s3:prefix"] = "private/x" })));
        Assert.Throws<FormatException>(() => AccessPolicy.Parse("""{"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}"""));
        Assert.Throws<FormatException>(() => AccessPolicy.Parse("""{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}"""));
    }
}
