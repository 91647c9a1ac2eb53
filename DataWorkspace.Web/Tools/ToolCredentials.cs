using System.Text.Json;
using Amazon;
using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>A user's prefixes in the files bucket: their home folder and their teams' folders.</summary>
public sealed record ToolPrefixes(string Home, IReadOnlyList<string> Teams)
{
    public IReadOnlyList<string> All => [Home, .. Teams];
}

/// <summary>
/// Issues a tool's S3 credentials: STS AssumeRole of <see cref="StorageOptions.ToolRoleArn"/> with a session policy
/// that allows only the user's home prefix and the prefixes of the teams they are in at that moment.
/// </summary>
public sealed class ToolCredentials(IOptions<StorageOptions> options, IConfiguration configuration, IServiceScopeFactory scopes, TimeProvider time, ILogger<ToolCredentials> logger)
    : IDisposable
{
    private readonly Lazy<AmazonSecurityTokenServiceClient> sts = new(() =>
    {
        var config = new AmazonSecurityTokenServiceConfig { RegionEndpoint = RegionEndpoint.GetBySystemName(StorageOptions.Region(configuration)) };
        if (configuration["Aws:ServiceUrl"] is { Length: > 0 } endpoint) config.ServiceURL = endpoint;
        return new AmazonSecurityTokenServiceClient(PlatformAwsCredentials.Instance, config);
    });

    public async Task<ToolPrefixes> PrefixesAsync(string userId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var teams = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<Team>().AsNoTracking()
            .Where(t => t.Members.Any(m => m.UserId == userId)).Select(t => t.Slug).OrderBy(s => s).ToListAsync(cancellationToken);
        return new ToolPrefixes(StorageOptions.HomePrefix(userId), [.. teams.Select(StorageOptions.TeamPrefix)]);
    }

    /// <summary>Fresh credentials for the user's prefixes (their teams as of now, unless given), for <see cref="StorageOptions.CredentialLifetime"/> unless given.</summary>
    public async Task<ToolAwsCredentials> IssueAsync(string userId, ToolPrefixes? prefixes, CancellationToken cancellationToken, TimeSpan? lifetime = null)
    {
        var settings = options.Value;
        var duration = lifetime ?? settings.CredentialLifetime;
        prefixes ??= await PrefixesAsync(userId, cancellationToken);
        var policy = SessionPolicy(settings.Bucket, prefixes.All);
        try
        {
            var response = await sts.Value.AssumeRoleAsync(new AssumeRoleRequest
            {
                RoleArn = settings.ToolRoleArn,
                RoleSessionName = $"tool-{UserHash.Of(userId)}",
                DurationSeconds = (int)duration.TotalSeconds,
                Policy = policy,
            }, cancellationToken);
            var issued = response.Credentials;
            var expiration = issued.Expiration is { } at ? new DateTimeOffset(at.ToUniversalTime(), TimeSpan.Zero) : time.GetUtcNow().Add(duration);
            return new ToolAwsCredentials(issued.AccessKeyId, issued.SecretAccessKey, issued.SessionToken, expiration, settings.ToolRoleArn, policy);
        }
        catch (AmazonServiceException exception)
        {
            logger.LogError(exception, "AssumeRole {Role} for a tool failed", settings.ToolRoleArn);
            throw new LaunchException($"The tool's file access could not be set up: AWS STS refused ({exception.ErrorCode ?? exception.Message}). Tell the platform team.");
        }
    }

    /// <summary>
    /// The session policy: list the bucket only under the given prefixes, and read, write and delete objects only
    /// there. AssumeRole grants the intersection of this and the role's own policy.
    /// </summary>
    public static string SessionPolicy(string bucket, IReadOnlyList<string> prefixes) => JsonSerializer.Serialize(new
    {
        Version = "2012-10-17",
        Statement = new object[]
        {
            new
            {
                Sid = "ListOwnPrefixes",
                Effect = "Allow",
                Action = new[] { "s3:ListBucket" },
                Resource = new[] { $"arn:aws:s3:::{bucket}" },
                Condition = new { StringLike = new Dictionary<string, string[]> { ["s3:prefix"] = [.. prefixes.SelectMany(p => new[] { p, p + "*" })] } },
            },
            new
            {
                Sid = "ObjectsUnderOwnPrefixes",
                Effect = "Allow",
                Action = new[] { "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts" },
                Resource = prefixes.Select(p => $"arn:aws:s3:::{bucket}/{p}*").ToArray(),
            },
        },
    });

    public void Dispose()
    {
        if (sts.IsValueCreated) sts.Value.Dispose();
    }
}
