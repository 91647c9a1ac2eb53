using System.ComponentModel.DataAnnotations;

namespace DataWorkspace.Web.Tools.Ecs;

/// <summary>Where per-user tools run: the ECS cluster, its region and endpoint, and the network the tasks join.</summary>
public sealed class EcsOptions
{
    public const string Section = "Tools:Ecs";

    /// <summary>An emulator's endpoint (moto, LocalStack); when empty, the real ECS endpoint of <see cref="Region"/>.</summary>
    [Url]
    public string? ServiceUrl { get; set; }

    [Required]
    public string Region { get; set; } = "";

    [Required]
    public string Cluster { get; set; } = "";

    /// <summary>The private subnets tool tasks are placed in.</summary>
    [MinLength(1)]
    public List<string> Subnets { get; set; } = [];

    [MinLength(1)]
    public List<string> SecurityGroups { get; set; } = [];

    /// <summary>The role ECS uses to pull images and write logs for tool tasks.</summary>
    public string ExecutionRoleArn { get; set; } = "";

    /// <summary>The role tool tasks run as (their S3 access); overridable per run.</summary>
    public string? TaskRoleArn { get; set; }

    /// <summary>
    /// A role per user for their tools' tasks, with <c>{userhash}</c> for the user's hash
    /// (<c>arn:aws:iam::123456789012:role/dw-user-{userhash}</c>): given as the run's task role override, so the tool's
    /// own AWS access is its user's. Empty: <see cref="TaskRoleArn"/> for all. Without <c>{userhash}</c> every user's
    /// tools would share one role with no session policy narrowing it, so such a value stops the web app at start.
    /// The deployment owns these roles and their policies (the user's home prefix and their teams' prefixes).
    /// </summary>
    [RegularExpression(@"^$|^arn:aws[a-z-]*:iam::\d{12}:role/.*\{userhash\}.*$",
        ErrorMessage = "Tools:Ecs:UserTaskRoleArn must be a role ARN with {{userhash}} in its name (arn:aws:iam::123456789012:role/dw-user-{{userhash}}): one fixed role would give every user's tools the same files.")]
    public string? UserTaskRoleArn { get; set; }

    /// <summary>The sidecars image (s3sync, metrics) run beside each tool; none when empty.</summary>
    public string? SidecarImage { get; set; }

    /// <summary>How many times a throttled or failed (5xx) call is tried before its error is reported.</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 5;

    public Uri ServiceEndpoint() =>
        new(string.IsNullOrWhiteSpace(ServiceUrl) ? $"https://ecs.{Region}.amazonaws.com/" : ServiceUrl);
}
