using System.Text.Json;
using Amazon;
using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DataAccess;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>Where users' files live in S3, and the role tools assume to reach them.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>The bucket of home folders and team folders; tools get no S3 access while it is empty.</summary>
    public string Bucket { get; set; } = "";

    /// <summary>The role assumed for each tool, narrowed by a session policy to the user's own prefixes.</summary>
    public string ToolRoleArn { get; set; } = "arn:aws:iam::000000000000:role/dataworkspace-tools";

    /// <summary>How long a tool's S3 credentials last (STS allows up to 12 hours for a role that permits it).</summary>
    public TimeSpan CredentialLifetime { get; set; } = TimeSpan.FromHours(12);

    public bool IsConfigured => Bucket.Length > 0;

    /// <summary>A user's home folder: <c>home/&lt;userhash8&gt;/</c>.</summary>
    public static string HomePrefix(string userId) => $"home/{UserHash.Of(userId)}/";

    /// <summary>A team's shared folder: <c>teams/&lt;slug&gt;/</c>.</summary>
    public static string TeamPrefix(string slug) => $"teams/{slug}/";
}

/// <summary>
/// S3 for a tool: the bucket, region and endpoint, the user's home prefix and their teams' prefixes, and short-lived
/// credentials from STS AssumeRole whose session policy allows only those prefixes. The platform's own AWS
/// credentials never reach a tool.
/// </summary>
public sealed class ToolStorage(IOptions<StorageOptions> options, IConfiguration configuration, IServiceScopeFactory scopes, ILogger<ToolStorage> logger)
{
    public async Task<Dictionary<string, string>> EnvironmentAsync(string userId, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.IsConfigured) return [];

        List<string> teams;
        await using (var scope = scopes.CreateAsyncScope())
        {
            teams = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<Team>().AsNoTracking()
                .Where(t => t.Members.Any(m => m.UserId == userId)).Select(t => t.Slug).OrderBy(s => s).ToListAsync(cancellationToken);
        }

        var home = StorageOptions.HomePrefix(userId);
        var teamPrefixes = teams.Select(StorageOptions.TeamPrefix).ToList();
        var region = configuration["Aws:Region"] is { Length: > 0 } configured ? configured : "eu-west-2";
        var endpoint = configuration["Aws:ServiceUrl"];
        var config = new AmazonSecurityTokenServiceConfig { RegionEndpoint = RegionEndpoint.GetBySystemName(region) };
        if (!string.IsNullOrEmpty(endpoint)) config.ServiceURL = endpoint;
        using var sts = new AmazonSecurityTokenServiceClient(Amazon.Runtime.Credentials.DefaultAWSCredentialsIdentityResolver.GetCredentials(), config);
        Credentials credentials;
        try
        {
            var response = await sts.AssumeRoleAsync(new AssumeRoleRequest
            {
                RoleArn = settings.ToolRoleArn,
                RoleSessionName = $"tool-{UserHash.Of(userId)}",
                DurationSeconds = (int)settings.CredentialLifetime.TotalSeconds,
                Policy = SessionPolicy(settings.Bucket, [home, .. teamPrefixes]),
            }, cancellationToken);
            credentials = response.Credentials;
        }
        catch (AmazonServiceException exception)
        {
            logger.LogError(exception, "AssumeRole {Role} for a tool failed", settings.ToolRoleArn);
            throw new LaunchException($"The tool's file access could not be set up: AWS STS refused ({exception.ErrorCode ?? exception.Message}). Tell the platform team.");
        }

        var environment = new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = credentials.AccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = credentials.SecretAccessKey,
            ["AWS_SESSION_TOKEN"] = credentials.SessionToken,
            ["AWS_REGION"] = region,
            ["AWS_DEFAULT_REGION"] = region,
            ["S3_BUCKET"] = settings.Bucket,
            ["S3_PREFIX"] = home,
            ["S3_TEAM_PREFIXES"] = string.Join(',', teamPrefixes),
            ["S3_CREDENTIALS_EXPIRE"] = (credentials.Expiration ?? DateTime.UtcNow.Add(settings.CredentialLifetime)).ToUniversalTime().ToString("O"),
        };
        if (!string.IsNullOrEmpty(endpoint))
        {
            environment["AWS_ENDPOINT_URL"] = endpoint;
            environment["AWS_ENDPOINT_URL_S3"] = endpoint;
        }

        return environment;
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
}
