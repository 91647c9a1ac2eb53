using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using DataWorkspace.Contracts;
using DataWorkspace.Deployment.Ecs;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Tools;
using DataWorkspace.Web.Tools.Ecs;

namespace DataWorkspace.Web.Tests;

/// <summary>The ECS client against a real moto_server: tasks are registered, run, described and stopped over the wire.</summary>
public sealed class EcsClientTests(EcsMoto moto) : IClassFixture<EcsMoto>
{
    private const string ExecutionRole = "arn:aws:iam::123456789012:role/tool-execution";
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("arn:aws:iam::123456789012:role/dw-user-{userhash}", true)]
    [InlineData("", true)]
    [InlineData("arn:aws:iam::123456789012:role/dw-tools", false)]
    [InlineData("dw-user-{userhash}", false)]
    public void A_per_user_role_must_name_the_users_hash_or_every_users_tools_would_share_one(string arn, bool valid)
    {
        var options = new EcsOptions { Region = "eu-west-2", Cluster = "tools", Subnets = ["subnet-1"], SecurityGroups = ["sg-1"], ExecutionRoleArn = ExecutionRole, UserTaskRoleArn = arn };
        var errors = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        Assert.Equal(valid, System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), errors, validateAllProperties: true));
        if (!valid) Assert.Contains("{userhash}", Assert.Single(errors).ErrorMessage);
    }

    [Fact]
    public async Task A_registered_task_definition_reads_back_as_family_and_revision()
    {
        using var ecs = moto.Client();
        var family = $"jupyter-{Guid.NewGuid():N}";

        var first = await ecs.RegisterTaskDefinitionAsync(ToolDefinition(family), Cancellation);
        var second = await ecs.RegisterTaskDefinitionAsync(ToolDefinition(family), Cancellation);

        Assert.Equal($"{family}:1", first.FamilyRevision);
        Assert.Equal($"{family}:2", second.FamilyRevision);
        Assert.EndsWith($":task-definition/{family}:2", second.TaskDefinitionArn, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_task_is_described_running_with_its_private_ip()
    {
        using var ecs = moto.Client();
        var definition = await ecs.RegisterTaskDefinitionAsync(ToolDefinition($"jupyter-{Guid.NewGuid():N}"), Cancellation);

        var started = await ecs.RunTaskAsync(ToolRun(definition.FamilyRevision, "user-1"), Cancellation);
        var running = await DescribeUntilAsync(ecs, started.TaskArn, "RUNNING");

        Assert.Equal(definition.TaskDefinitionArn, running.TaskDefinitionArn);
        Assert.Equal("RUNNING", running.DesiredStatus);
        Assert.Equal("user-1", running.StartedBy);
        Assert.Equal("jupyter", Assert.Single(running.Containers).Name);
        var ip = EcsTaskAddress.PrivateIp(running);
        Assert.True(IPAddress.TryParse(ip, out var address), $"'{ip}' is not an IP address");
        Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, address.AddressFamily);
    }

    [Fact]
    public async Task The_ecs_launcher_registers_runs_finds_the_address_once_running_and_stops_a_users_tool()
    {
        var recorder = new CountingHandler { InnerHandler = new SocketsHttpHandler() };
        using var ecs = moto.Client(recorder);
        var options = Microsoft.Extensions.Options.Options.Create(new EcsOptions
        {
            ServiceUrl = moto.Url.ToString(), Region = EcsMoto.Region, Cluster = moto.Cluster, Subnets = [moto.SubnetId],
            SecurityGroups = [moto.SecurityGroupId], ExecutionRoleArn = "arn:aws:iam::123456789012:role/tools-execution",
            SidecarImage = "dataworkspace/sidecars:1", UserTaskRoleArn = "arn:aws:iam::123456789012:role/dw-user-{userhash}",
        });
        var launcher = new EcsLauncher(ecs, options, Microsoft.Extensions.Logging.Abstractions.NullLogger<EcsLauncher>.Instance);
        var template = new ToolTemplate { Name = "JupyterLab", HostBasename = "jupyterlab", Image = "quay.io/jupyter/datascience-notebook:2025-11-24", Port = 8888 };
        var host = $"jupyterlab-{Guid.NewGuid().ToString("N")[..8]}";
        var stages = new List<ToolStage>();

        var launched = await launcher.StartAsync(
            new LaunchRequest(Guid.NewGuid(), host, new Uri($"https://{host}.dataworkspace.example/"), template, ToolSizes.Large, "user-7", new Dictionary<string, string>
            {
                ["PGUSER"] = "_login_x", ["PGPASSWORD"] = "secret-of-the-tool", ["S3_BUCKET"] = "files", ["S3_PREFIX"] = "home/abc/", ["AWS_REGION"] = "eu-west-2",
            }),
            new SynchronousProgress(stages), Cancellation);
        var instance = new ToolInstance { Host = host, HostBasename = "jupyterlab", TemplateName = "JupyterLab", OwnerId = "user-7", Size = "Large", Launcher = "Ecs", LauncherHandle = launched.Handle };

        // The run's task role is the user's own.
        Assert.Contains($"\"taskRoleArn\":\"arn:aws:iam::123456789012:role/dw-user-{DataWorkspace.Contracts.UserHash.Of("user-7")}\"",
            recorder.Bodies.Single(body => body.Contains("\"clientToken\"", StringComparison.Ordinal)));
        // Beside the tool: s3sync keeps the home folder (a volume both mount, the tool's HOME) in step with S3, and metrics
        // serves the task's figures on 8889 from the metadata endpoint ECS gives every container.
        var registered = JsonDocument.Parse(recorder.Bodies.Single(body => body.Contains("\"containerDefinitions\"", StringComparison.Ordinal))).RootElement;
        var containers = registered.GetProperty("containerDefinitions").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
        Assert.Equal(["tool", "s3sync", "metrics"], containers.Keys);
        Assert.Equal("home", registered.GetProperty("volumes").EnumerateArray().Single().GetProperty("name").GetString());
        foreach (var name in new[] { "tool", "s3sync" })
        {
            var mount = containers[name].GetProperty("mountPoints").EnumerateArray().Single();
            Assert.Equal(("home", EcsLauncher.HomeFolder), (mount.GetProperty("sourceVolume").GetString(), mount.GetProperty("containerPath").GetString()));
        }
        Assert.Contains(containers["tool"].GetProperty("environment").EnumerateArray(), e => e.GetProperty("name").GetString() == "HOME" && e.GetProperty("value").GetString() == EcsLauncher.HomeFolder);
        Assert.Equal(["s3sync", "--local", EcsLauncher.HomeFolder], containers["s3sync"].GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        // The home volume is the tool image's (root's, if it declares none): s3sync runs as the tool images' user to write there.
        Assert.Equal("1654:1654", containers["s3sync"].GetProperty("user").GetString());
        Assert.False(containers["tool"].TryGetProperty("user", out _), "the tool runs as its image's own user");
        Assert.Equal(["metrics"], containers["metrics"].GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(EcsLauncher.MetricsPort, containers["metrics"].GetProperty("portMappings").EnumerateArray().Single().GetProperty("containerPort").GetInt32());
        Assert.All(containers.Values.Where(c => c.GetProperty("name").GetString() != "tool"), c => Assert.False(c.GetProperty("essential").GetBoolean()));
        // The run gives s3sync the tool's S3 settings, and none of its database login.
        var overrides = JsonDocument.Parse(recorder.Bodies.Single(body => body.Contains("\"clientToken\"", StringComparison.Ordinal))).RootElement
            .GetProperty("overrides").GetProperty("containerOverrides").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!, o => o.GetProperty("environment").EnumerateArray()
                .ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("value").GetString()));
        Assert.Equal("_login_x", overrides["tool"]["PGUSER"]);
        Assert.Equal(new Dictionary<string, string?> { ["S3_BUCKET"] = "files", ["S3_PREFIX"] = "home/abc/", ["AWS_REGION"] = "eu-west-2" }, overrides["s3sync"]);
        // The stages the progress page shows, then the task's private address once ECS says it is RUNNING.
        Assert.Equal([ToolStage.Provisioning, ToolStage.Pulling], stages.Take(2));
        Assert.Matches(@"^http://\d+\.\d+\.\d+\.\d+:8888$", launched.Address);
        var taskArn = launched.Handle[..launched.Handle.LastIndexOf('#')];
        var described = Assert.Single((await ecs.DescribeTasksAsync(moto.Cluster, [taskArn], Cancellation)).Tasks);
        Assert.EndsWith($":task-definition/{host}:1", described.TaskDefinitionArn, StringComparison.Ordinal);
        // moto describes a task's containers from its overrides only: the tool container, with the user's environment.
        Assert.Equal("tool", described.Containers[0].Name);

        string? address = null;
        for (var attempt = 0; attempt < 20 && address is null; attempt++) address = await launcher.AddressAsync(instance, Cancellation);
        Assert.Matches(@"^http://\d+\.\d+\.\d+\.\d+:8888$", address);
        Assert.True((await launcher.AliveAsync(instance, Cancellation)).Alive);

        await launcher.StopAsync(instance, Cancellation);
        var (alive, reason) = (false, (string?)null);
        for (var attempt = 0; attempt < 20; attempt++)
        {
            (alive, reason) = await launcher.AliveAsync(instance, Cancellation);
            if (!alive) break;
        }

        Assert.False(alive);
        Assert.Contains("Stopped by Data Workspace", reason);
        Assert.Equal("has no container image, so it cannot run on ECS.", launcher.Unavailable(new ToolTemplate { Name = "Sample app", HostBasename = "sample" })!["Sample app ".Length..]);
    }

    private sealed class SynchronousProgress(List<ToolStage> seen) : IProgress<ToolStage>
    {
        public void Report(ToolStage value) => seen.Add(value);
    }

    [Fact]
    public async Task A_stopped_task_is_described_stopped_with_the_reason_given()
    {
        using var ecs = moto.Client();
        var definition = await ecs.RegisterTaskDefinitionAsync(ToolDefinition($"jupyter-{Guid.NewGuid():N}"), Cancellation);
        var started = await ecs.RunTaskAsync(ToolRun(definition.FamilyRevision, "user-2"), Cancellation);
        await DescribeUntilAsync(ecs, started.TaskArn, "RUNNING");

        await ecs.StopTaskAsync(moto.Cluster, started.TaskArn, "Stopped by its user", Cancellation);
        var stopped = await DescribeUntilAsync(ecs, started.TaskArn, "STOPPED");

        Assert.Equal("STOPPED", stopped.DesiredStatus);
        Assert.Equal("Stopped by its user", stopped.StoppedReason);
    }

    [Fact]
    public async Task An_unknown_cluster_is_an_error_naming_ECS_error_code_and_is_not_retried()
    {
        var requests = new CountingHandler { InnerHandler = new SocketsHttpHandler() };
        using var ecs = moto.Client(requests);

        var error = await Assert.ThrowsAsync<EcsException>(() =>
            ecs.DescribeTasksAsync("no-such-cluster", ["arn:aws:ecs:us-east-1:123456789012:task/no-such-cluster/1"], Cancellation));

        Assert.Equal("ClusterNotFoundException", error.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("ClusterNotFoundException", error.Message, StringComparison.Ordinal);
        Assert.Contains("Cluster not found", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, requests.Count);
    }

    [Fact]
    public async Task Requests_are_SigV4_signed_for_ecs_with_the_operation_as_target()
    {
        var requests = new CountingHandler { InnerHandler = new SocketsHttpHandler() };
        using var ecs = moto.Client(requests);

        var cluster = await ecs.CreateClusterAsync($"signed-{Guid.NewGuid():N}", Cancellation);

        Assert.Equal("ACTIVE", cluster.Status);
        var request = Assert.Single(requests.Seen);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal(moto.Url, request.Uri);
        Assert.Equal("AmazonEC2ContainerServiceV20141113.CreateCluster", request.Target);
        Assert.Equal("application/x-amz-json-1.1", request.ContentType);
        var signedAt = DateTime.ParseExact(request.AmzDate!, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
        Assert.InRange(signedAt, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(1));
        Assert.StartsWith($"AWS4-HMAC-SHA256 Credential=test/{signedAt:yyyyMMdd}/us-east-1/ecs/aws4_request, ", request.Authorization, StringComparison.Ordinal);
        Assert.Contains("x-amz-target", request.Authorization, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Throttling_is_retried_until_ECS_answers()
    {
        var ecs = new ScriptedEcs(
            (HttpStatusCode.TooManyRequests, """{"__type":"ThrottlingException","message":"Rate exceeded"}"""),
            (HttpStatusCode.BadRequest, """{"__type":"ThrottlingException","message":"Rate exceeded"}"""),
            (HttpStatusCode.OK, """{"cluster":{"clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/tools","clusterName":"tools","status":"ACTIVE"}}"""));
        using var client = ecs.Client(maxAttempts: 5);

        var cluster = await client.CreateClusterAsync("tools", Cancellation);

        Assert.Equal("tools", cluster.ClusterName);
        Assert.Equal(3, ecs.Requests);
    }

    [Fact]
    public async Task After_the_last_attempt_the_last_error_is_reported()
    {
        var ecs = new ScriptedEcs(
            (HttpStatusCode.TooManyRequests, """{"__type":"ThrottlingException","message":"Rate exceeded"}"""),
            (HttpStatusCode.InternalServerError, """{"__type":"ServerException","message":"Service unavailable. Try again later."}"""),
            (HttpStatusCode.ServiceUnavailable, """{"__type":"com.amazonaws.ecs#ServerException","message":"Still unavailable."}"""),
            (HttpStatusCode.OK, """{"cluster":{"clusterArn":"never","clusterName":"never"}}"""));
        using var client = ecs.Client(maxAttempts: 3);

        var error = await Assert.ThrowsAsync<EcsException>(() => client.CreateClusterAsync("tools", Cancellation));

        Assert.Equal("ServerException", error.ErrorCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Contains("Still unavailable.", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, ecs.Requests);
    }

    [Fact]
    public async Task Cancelling_stops_the_retries()
    {
        var throttled = (HttpStatusCode.TooManyRequests, """{"__type":"ThrottlingException","message":"Rate exceeded"}""");
        var ecs = new ScriptedEcs(throttled, throttled, throttled, throttled, throttled);
        using var client = ecs.Client(maxAttempts: 5, firstRetryDelay: TimeSpan.FromSeconds(30));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.CreateClusterAsync("tools", cancel.Token));

        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        Assert.InRange(ecs.Requests, 1, 2);
    }

    [Fact]
    public void A_task_ECS_could_not_place_is_an_error_naming_the_reason()
    {
        // moto places every Fargate task, so ECS's own refusal is built here from the documented response shape.
        var response = new RunTaskResponse { Failures = [new EcsFailure(null, "RESOURCE:MEMORY", "Not enough memory in the capacity provider")] };

        var error = Assert.Throws<EcsException>(() => EcsClient.StartedTask(ToolRun("jupyter:3", "user-3"), response));

        Assert.Equal("RESOURCE:MEMORY", error.ErrorCode);
        Assert.Null(error.StatusCode);
        Assert.Contains("jupyter:3", error.Message, StringComparison.Ordinal);
        Assert.Contains("RESOURCE:MEMORY (Not enough memory in the capacity provider)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_private_ip_comes_from_the_network_interface_attachment_or_else_the_containers()
    {
        var attached = new EcsTask
        {
            TaskArn = "arn:task/1",
            Attachments = [new TaskAttachment { Type = "ElasticNetworkInterface", Details = [new("subnetId", "subnet-1"), new("privateIPv4Address", "10.0.1.7")] }],
            Containers = [new TaskContainer { Name = "jupyter", NetworkInterfaces = [new("10.0.9.9")] }],
        };
        var containersOnly = new EcsTask { TaskArn = "arn:task/2", Containers = [new TaskContainer { Name = "jupyter", NetworkInterfaces = [new("10.0.2.8")] }] };
        var notYetAttached = new EcsTask { TaskArn = "arn:task/3", Containers = [new TaskContainer { Name = "jupyter" }] };

        Assert.Equal("10.0.1.7", EcsTaskAddress.PrivateIp(attached));
        Assert.Equal("10.0.2.8", EcsTaskAddress.PrivateIp(containersOnly));
        Assert.Null(EcsTaskAddress.PrivateIp(notYetAttached));
    }

    private static RegisterTaskDefinitionRequest ToolDefinition(string family) => new()
    {
        Family = family,
        Cpu = "256",
        Memory = "512",
        ExecutionRoleArn = ExecutionRole,
        TaskRoleArn = "arn:aws:iam::123456789012:role/tool-default",
        ContainerDefinitions =
        [
            new ContainerDefinition
            {
                Name = "jupyter",
                Image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/jupyter:latest",
                Command = ["start-notebook.sh", "--NotebookApp.token="],
                Environment = [new("JUPYTER_PORT", "8888")],
                PortMappings = [new(8888)],
                Memory = 512,
                LogConfiguration = new("awslogs", new Dictionary<string, string> { ["awslogs-group"] = "tools", ["awslogs-region"] = "us-east-1", ["awslogs-stream-prefix"] = "jupyter" }),
            },
        ],
    };

    private RunTaskRequest ToolRun(string taskDefinition, string user) => new()
    {
        Cluster = moto.Cluster,
        TaskDefinition = taskDefinition,
        NetworkConfiguration = new(new AwsvpcConfiguration([moto.SubnetId], [moto.SecurityGroupId])),
        Overrides = new([new ContainerOverride("jupyter", [new("DATABASE_USER", user)])], "arn:aws:iam::123456789012:role/tool-" + user),
        StartedBy = user,
        Tags = [new("user", user)],
        ClientToken = Guid.NewGuid().ToString("N"),
    };

    private async Task<EcsTask> DescribeUntilAsync(EcsClient ecs, string taskArn, string status)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var described = await ecs.DescribeTasksAsync(moto.Cluster, [taskArn], Cancellation);
            var task = Assert.Single(described.Tasks);
            if (task.LastStatus == status) return task;
            await Task.Delay(100, Cancellation);
        }

        throw new Xunit.Sdk.XunitException($"Task {taskArn} did not reach {status}");
    }

    /// <summary>Records each request as it leaves the signer, then passes it on.</summary>
    private sealed class CountingHandler : DelegatingHandler
    {
        public List<(HttpMethod Method, Uri? Uri, string? Target, string? ContentType, string? Authorization, string? AmzDate)> Seen { get; } = [];

        public int Count => Seen.Count;

        public List<string> Bodies { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen.Add((request.Method, request.RequestUri, Header(request, "X-Amz-Target"), request.Content?.Headers.ContentType?.ToString(),
                Header(request, "Authorization"), Header(request, "X-Amz-Date")));
            if (request.Content is not null) Bodies.Add(await request.Content.ReadAsStringAsync(cancellationToken));
            return await base.SendAsync(request, cancellationToken);
        }

        private static string? Header(HttpRequestMessage request, string name) =>
            request.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;
    }

    /// <summary>ECS answering a fixed sequence of responses: only to show what the client does with throttling.</summary>
    private sealed class ScriptedEcs(params (HttpStatusCode Status, string Body)[] answers) : HttpMessageHandler
    {
        private int next;

        public int Requests => next;

        public EcsClient Client(int maxAttempts, TimeSpan? firstRetryDelay = null) =>
            new(new EcsOptions { ServiceUrl = "http://ecs.test/", Region = "us-east-1", Cluster = "tools", MaxAttempts = maxAttempts },
                new BasicAWSCredentials("test", "test"), this)
            { FirstRetryDelay = firstRetryDelay ?? TimeSpan.FromMilliseconds(20) };

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var (status, body) = answers[next++];
            return Task.FromResult(new HttpResponseMessage(status)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/x-amz-json-1.1"),
                RequestMessage = request,
            });
        }
    }
}

/// <summary>
/// A moto_server of its own with an ECS cluster, a subnet and a security group to run tasks in, and tasks held
/// RUNNING until stopped (moto otherwise moves a task one state on at each DescribeTasks).
/// </summary>
public sealed class EcsMoto : MotoServer
{
    private readonly BasicAWSCredentials credentials = new(AccessKeyId, SecretAccessKey);

    public string Cluster { get; } = "tools";
    public string SubnetId { get; private set; } = "";
    public string SecurityGroupId { get; private set; } = "";

    public EcsClient Client(HttpMessageHandler? transport = null) =>
        new(new EcsOptions { ServiceUrl = Url.ToString(), Region = Region, Cluster = Cluster, Subnets = [SubnetId], SecurityGroups = [SecurityGroupId] },
            credentials, transport);

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        using var http = new HttpClient { BaseAddress = Url };
        using var manual = new StringContent("""{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}""", Encoding.UTF8, "application/json");
        (await http.PostAsync("moto-api/state-manager/set-transition", manual)).EnsureSuccessStatusCode();

        using var ecs = Client();
        await ecs.CreateClusterAsync(Cluster);
        using var ec2 = new HttpClient(new SigV4SigningHandler(credentials, RegionEndpoint.GetBySystemName(Region), "ec2", new SocketsHttpHandler())) { BaseAddress = Url };
        SubnetId = await Ec2FirstAsync(ec2, "DescribeSubnets", "subnetId");
        SecurityGroupId = await Ec2FirstAsync(ec2, "DescribeSecurityGroups", "groupId");
    }

    // EC2's query API: a signed form POST answered in XML.
    private static async Task<string> Ec2FirstAsync(HttpClient ec2, string action, string idElement)
    {
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["Action"] = action, ["Version"] = "2016-11-15" });
        using var response = await ec2.PostAsync("", form);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"EC2 {action} failed: {body}");
        return XDocument.Parse(body).Descendants().First(element => element.Name.LocalName == idElement).Value;
    }
}
