using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using DataWorkspace.Deployment.Ecs;

namespace DataWorkspace.Web.Tools.Ecs;

/// <summary>
/// The few Amazon ECS operations the platform calls, over ECS's JSON protocol and signed with SigV4 (AWSSDK.ECS is not
/// available to the project). Throttling and server errors are retried with exponential backoff and jitter; any other
/// error answer becomes an <see cref="EcsException"/>.
/// </summary>
public sealed class EcsClient : IDisposable
{
    private const string TargetPrefix = "AmazonEC2ContainerServiceV20141113.";
    private static readonly MediaTypeHeaderValue AmazonJson = new("application/x-amz-json-1.1");

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly HttpClient http;
    private readonly int maxAttempts;

    /// <param name="transport">The handler under the signer; by default a new <see cref="SocketsHttpHandler"/>.</param>
    public EcsClient(EcsOptions options, AWSCredentials credentials, HttpMessageHandler? transport = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAttempts, 1);
        var signer = new SigV4SigningHandler(
            credentials, RegionEndpoint.GetBySystemName(options.Region), "ecs", transport ?? new SocketsHttpHandler());
        http = new HttpClient(signer) { BaseAddress = options.ServiceEndpoint() };
        maxAttempts = options.MaxAttempts;
    }

    /// <summary>The longest first wait before a retry; each further retry may wait twice as long (full jitter).</summary>
    internal TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    internal static TimeSpan LongestRetryDelay { get; } = TimeSpan.FromSeconds(10);

    public async Task<EcsCluster> CreateClusterAsync(string clusterName, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync<CreateClusterResponse>("CreateCluster", new { clusterName }, cancellationToken);
        return response.Cluster;
    }

    public async Task<TaskDefinition> RegisterTaskDefinitionAsync(RegisterTaskDefinitionRequest request, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync<RegisterTaskDefinitionResponse>("RegisterTaskDefinition", request, cancellationToken);
        return response.TaskDefinition;
    }

    /// <summary>Starts one Fargate task; ECS's refusal to place it (RESOURCE:MEMORY and the like) is an <see cref="EcsException"/>.</summary>
    public async Task<EcsTask> RunTaskAsync(RunTaskRequest request, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync<RunTaskResponse>("RunTask", request, cancellationToken);
        return StartedTask(request, response);
    }

    /// <summary>The tasks found; tasks ECS no longer knows come back in <see cref="DescribeTasksResponse.Failures"/> (reason MISSING).</summary>
    public Task<DescribeTasksResponse> DescribeTasksAsync(string cluster, IReadOnlyList<string> tasks, CancellationToken cancellationToken = default) =>
        CallAsync<DescribeTasksResponse>("DescribeTasks", new { cluster, tasks }, cancellationToken);

    public async Task<EcsTask> StopTaskAsync(string cluster, string task, string reason, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync<StopTaskResponse>("StopTask", new { cluster, task, reason }, cancellationToken);
        return response.Task;
    }

    public void Dispose() => http.Dispose();

    internal static EcsTask StartedTask(RunTaskRequest request, RunTaskResponse response)
    {
        if (response.Failures.Count > 0)
        {
            var failure = response.Failures[0];
            var detail = string.IsNullOrEmpty(failure.Detail) ? "" : $" ({failure.Detail})";
            throw new EcsException(
                failure.Reason,
                $"ECS could not start a task of {request.TaskDefinition} in cluster {request.Cluster}: {failure.Reason}{detail}.");
        }

        return response.Tasks.Count > 0
            ? response.Tasks[0]
            : throw new EcsException("NoTaskStarted", $"ECS started no task of {request.TaskDefinition} in cluster {request.Cluster} and gave no reason.");
    }

    private async Task<T> CallAsync<T>(string operation, object body, CancellationToken cancellationToken)
    {
        var content = JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), Json);
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "");
            request.Headers.Add("X-Amz-Target", TargetPrefix + operation);
            request.Content = new ByteArrayContent(content);
            request.Content.Headers.ContentType = AmazonJson;

            using var response = await http.SendAsync(request, cancellationToken);
            var answer = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
                return JsonSerializer.Deserialize<T>(answer, Json)
                    ?? throw new EcsException("InvalidResponse", $"ECS answered {operation} with an empty body.", response.StatusCode);

            var error = EcsException.FromResponse(operation, response.StatusCode, answer);
            if (!error.IsRetryable || attempt >= maxAttempts)
                throw error;
            await Task.Delay(RetryDelay(attempt), cancellationToken);
        }
    }

    private TimeSpan RetryDelay(int attempt)
    {
        var ceiling = Math.Min(LongestRetryDelay.TotalMilliseconds, FirstRetryDelay.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    private sealed record CreateClusterResponse(EcsCluster Cluster);

    private sealed record RegisterTaskDefinitionResponse(TaskDefinition TaskDefinition);

    private sealed record StopTaskResponse(EcsTask Task);
}

/// <summary>An error answer from ECS: its error code (ClusterNotFoundException, ThrottlingException, ...) and message.</summary>
public sealed class EcsException(string errorCode, string message, HttpStatusCode? statusCode = null) : Exception(message)
{
    private static readonly HashSet<string> RetryableCodes = ["ThrottlingException", "ServerException"];

    public string ErrorCode { get; } = errorCode;

    /// <summary>The HTTP status of the answer; null when ECS answered 200 but reported a failure inside it.</summary>
    public HttpStatusCode? StatusCode { get; } = statusCode;

    internal bool IsRetryable =>
        RetryableCodes.Contains(ErrorCode) || StatusCode is HttpStatusCode.TooManyRequests || (int?)StatusCode >= 500;

    internal static EcsException FromResponse(string operation, HttpStatusCode status, byte[] body)
    {
        string? type = null, message = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                type = Text(document.RootElement, "__type");
                message = Text(document.RootElement, "message") ?? Text(document.RootElement, "Message");
            }
        }
        catch (JsonException)
        {
            // A proxy's or an emulator's HTML error page: the status code is all there is to go on.
        }

        var code = CodeOf(type) ?? (status == HttpStatusCode.TooManyRequests ? "ThrottlingException" : $"Http{(int)status}");
        return new EcsException(code, $"ECS {operation} failed with {code}: {message ?? status.ToString()}", status);
    }

    // ECS writes the type as "ClusterNotFoundException", "com.amazonaws.ecs#ClusterNotFoundException" or with ":<url>" after it.
    private static string? CodeOf(string? type)
    {
        if (string.IsNullOrWhiteSpace(type))
            return null;
        var name = type[(type.LastIndexOf('#') + 1)..];
        var colon = name.IndexOf(':');
        return colon >= 0 ? name[..colon] : name;
    }

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>Where a running task can be reached inside the VPC.</summary>
public static class EcsTaskAddress
{
    /// <summary>The private IPv4 address of the task's network interface (awsvpc), or null before ECS has attached one.</summary>
    public static string? PrivateIp(EcsTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        var fromAttachment = task.Attachments
            .Where(attachment => attachment.Type is null or "ElasticNetworkInterface" or "eni")
            .SelectMany(attachment => attachment.Details)
            .FirstOrDefault(detail => detail.Name == "privateIPv4Address" && !string.IsNullOrEmpty(detail.Value))?.Value;
        return fromAttachment ?? task.Containers
            .SelectMany(container => container.NetworkInterfaces)
            .FirstOrDefault(networkInterface => !string.IsNullOrEmpty(networkInterface.PrivateIpv4Address))?.PrivateIpv4Address;
    }
}

public sealed record TaskDefinition
{
    public required string TaskDefinitionArn { get; init; }
    public required string Family { get; init; }
    public int Revision { get; init; }
    public string? Status { get; init; }

    /// <summary>"family:revision", the name RunTask accepts for this exact revision.</summary>
    [JsonIgnore]
    public string FamilyRevision => $"{Family}:{Revision}";
}

public sealed record RunTaskRequest
{
    public required string Cluster { get; init; }

    /// <summary>"family", "family:revision" or the task definition's ARN.</summary>
    public required string TaskDefinition { get; init; }

    public string LaunchType => "FARGATE";
    public int Count => 1;
    public required NetworkConfiguration NetworkConfiguration { get; init; }
    public TaskOverride? Overrides { get; init; }

    /// <summary>Who or what started the task (up to 36 characters), shown by ECS and usable in ListTasks.</summary>
    public string? StartedBy { get; init; }

    public IReadOnlyList<ResourceTag>? Tags { get; init; }

    /// <summary>
    /// Makes RunTask idempotent (up to 64 characters): a retry after a lost answer starts no second task. The
    /// launcher uses the instance's id.
    /// </summary>
    public string? ClientToken { get; init; }
}

public sealed record NetworkConfiguration(AwsvpcConfiguration AwsvpcConfiguration);

/// <summary>Private subnets only: tools are reached through the proxy, never from the internet.</summary>
public sealed record AwsvpcConfiguration(IReadOnlyList<string> Subnets, IReadOnlyList<string> SecurityGroups)
{
    public string AssignPublicIp => "DISABLED";
}

public sealed record TaskOverride(IReadOnlyList<ContainerOverride>? ContainerOverrides = null, string? TaskRoleArn = null);

public sealed record ContainerOverride(string Name, IReadOnlyList<EnvironmentVariable>? Environment = null);

public sealed record ResourceTag(string Key, string Value);

public sealed record RunTaskResponse
{
    public IReadOnlyList<EcsTask> Tasks { get; init; } = [];
    public IReadOnlyList<EcsFailure> Failures { get; init; } = [];
}

public sealed record DescribeTasksResponse
{
    public IReadOnlyList<EcsTask> Tasks { get; init; } = [];
    public IReadOnlyList<EcsFailure> Failures { get; init; } = [];
}

/// <summary>Why ECS did not act on one resource: e.g. RESOURCE:MEMORY for RunTask, MISSING for DescribeTasks.</summary>
public sealed record EcsFailure(string? Arn, string Reason, string? Detail = null);

public sealed record EcsCluster(string ClusterArn, string ClusterName, string? Status);

public sealed record EcsTask
{
    public required string TaskArn { get; init; }
    public string? ClusterArn { get; init; }
    public string? TaskDefinitionArn { get; init; }

    /// <summary>PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING or STOPPED.</summary>
    public string? LastStatus { get; init; }

    public string? DesiredStatus { get; init; }
    public string? StoppedReason { get; init; }
    public string? StartedBy { get; init; }
    public IReadOnlyList<TaskContainer> Containers { get; init; } = [];
    public IReadOnlyList<TaskAttachment> Attachments { get; init; } = [];
    public IReadOnlyList<ResourceTag> Tags { get; init; } = [];
}

public sealed record TaskContainer
{
    public required string Name { get; init; }
    public string? LastStatus { get; init; }
    public int? ExitCode { get; init; }
    public string? Reason { get; init; }
    public IReadOnlyList<TaskNetworkInterface> NetworkInterfaces { get; init; } = [];
}

public sealed record TaskNetworkInterface(string? PrivateIpv4Address);

public sealed record TaskAttachment
{
    public string? Id { get; init; }
    public string? Type { get; init; }
    public string? Status { get; init; }
    public IReadOnlyList<AttachmentDetail> Details { get; init; } = [];
}

public sealed record AttachmentDetail(string Name, string? Value);
