using DataWorkspace.Web.Storage;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// S3 for a tool: the bucket, region and endpoint, the user's home prefix and their teams' prefixes, and the way its
/// AWS SDK gets credentials that reach only those prefixes: renewed for as long as the tool runs where its launcher
/// provides that (a local endpoint, an ECS task role), otherwise one set from STS that lasts
/// <see cref="StorageOptions.CredentialLifetime"/>. The platform's own AWS credentials never reach a tool.
/// </summary>
public sealed class ToolStorage(IOptions<StorageOptions> options, IConfiguration configuration, ToolCredentials credentials, ILauncher launcher, ILogger<ToolStorage> logger)
{
    public async Task<Dictionary<string, string>> EnvironmentAsync(Guid instanceId, string userId, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.IsConfigured) return [];

        var prefixes = await credentials.PrefixesAsync(userId, cancellationToken);
        var region = StorageOptions.Region(configuration);
        var environment = new Dictionary<string, string>
        {
            ["AWS_REGION"] = region,
            ["AWS_DEFAULT_REGION"] = region,
            ["S3_BUCKET"] = settings.Bucket,
            ["S3_PREFIX"] = prefixes.Home,
            ["S3_TEAM_PREFIXES"] = string.Join(',', prefixes.Teams),
        };
        if (configuration["Aws:ServiceUrl"] is { Length: > 0 } endpoint)
        {
            environment["AWS_ENDPOINT_URL"] = endpoint;
            environment["AWS_ENDPOINT_URL_S3"] = endpoint;
        }

        if (launcher.RenewingCredentials(instanceId) is { } renewing)
        {
            foreach (var (name, value) in renewing) environment[name] = value;
            return environment;
        }

        var issued = await credentials.IssueAsync(userId, prefixes, cancellationToken);
        logger.LogWarning("Tool instance {Id} gets S3 credentials that expire at {Expiration:u} and are not renewed: its launcher ({Launcher}) has no "
            + "source of renewing credentials (for ECS, set Tools:Ecs:UserTaskRoleArn to a role per user)", instanceId, issued.Expiration, launcher.Name);
        environment["AWS_ACCESS_KEY_ID"] = issued.AccessKeyId;
        environment["AWS_SECRET_ACCESS_KEY"] = issued.SecretAccessKey;
        environment["AWS_SESSION_TOKEN"] = issued.SessionToken;
        environment["S3_CREDENTIALS_EXPIRE"] = issued.Expiration.UtcDateTime.ToString("O");
        return environment;
    }
}
