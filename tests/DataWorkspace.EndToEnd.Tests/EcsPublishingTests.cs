using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// The graph published once as a user would (<c>dotnet run --project DataWorkspace.AppHost -- --publisher manifest</c>),
/// with no Docker daemon and no AWS credentials, and with a local data directory configured whose secrets must not
/// leak into what is published.
/// </summary>
public sealed partial class PublishedEcsDeployment : IAsyncLifetime
{
    public const string RootDomain = "dataworkspace.example.com";
    public const string Registry = "123456789012.dkr.ecr.eu-west-2.amazonaws.com";
    public const string Namespace = "dataworkspace.internal";

    /// <summary>The values of the deployment's non-secret parameters, given at publish time.</summary>
    public static readonly IReadOnlyDictionary<string, string> Parameters = new Dictionary<string, string>
    {
        ["image-registry"] = Registry,
        ["image-tag"] = "2026.12.05",
        ["aws-region"] = "eu-west-2",
        ["root-domain"] = RootDomain,
        ["files-bucket"] = "dataworkspace-files-example",
        ["execution-role-arn"] = "arn:aws:iam::123456789012:role/dataworkspace-execution",
        ["web-task-role-arn"] = "arn:aws:iam::123456789012:role/dataworkspace-web",
        ["tools-role-arn"] = "arn:aws:iam::123456789012:role/dataworkspace-tools",
        ["tools-cluster"] = "dataworkspace",
        ["tools-subnets"] = "subnet-0a1b2c3d,subnet-4e5f6a7b",
        ["tools-security-groups"] = "sg-0123456789abcdef0",
        ["oidc-authority"] = "https://sso.example.com",
        ["oidc-client-id"] = "dataworkspace",
        ["ip-allow-list"] = "10.0.0.0/8",
        ["dns-upstream"] = "10.0.0.2",
        ["admin-email"] = "platform-team@example.com",
    };

    private static readonly string[] LocalSecretNames = ["postgres-password", "identity-signing-key", "oidc-client-secret", "prometheus-password", "machine-api-demo-key"];

    public string Output { get; } = Path.Combine(Path.GetTempPath(), "dw-ecs-" + Guid.NewGuid().ToString("N")[..12]);

    public string DataDirectory => Path.Combine(Output, "local-data");

    public string Published => Path.Combine(Output, "published");

    public string Ecs => Path.Combine(Published, "ecs");

    /// <summary>The secrets of the local data directory the AppHost was pointed at while publishing.</summary>
    public IReadOnlyList<string> LocalSecrets { get; private set; } = [];

    public JsonElement Manifest { get; private set; }

    public IReadOnlyDictionary<string, JsonElement> TaskDefinitions { get; private set; } = new Dictionary<string, JsonElement>();

    public JsonElement Template { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var cancel = TestContext.Current.CancellationToken;
        // A data directory as `./dw run` leaves it, so a secret of a local run reaching the output would show.
        Directory.CreateDirectory(Path.Combine(DataDirectory, "secrets"));
        var secrets = new List<string>();
        foreach (var name in LocalSecretNames)
        {
            var value = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            await File.WriteAllTextAsync(Path.Combine(DataDirectory, "secrets", name), value, cancel);
            secrets.Add(value);
        }

        LocalSecrets = secrets;
        var configuration = typeof(PublishedEcsDeployment).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        var start = new ProcessStartInfo("dotnet",
        [
            "run", "--project", Projects.DataWorkspace_AppHost.ProjectPath, "--no-build", "--configuration", configuration,
            "--", "--publisher", "manifest", "--output-path", Path.Combine(Published, "aspire-manifest.json"),
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // No AWS credentials and no Docker: publishing must need neither.
        foreach (var name in start.Environment.Keys.Where(key => key.StartsWith("AWS_", StringComparison.Ordinal)).ToList()) start.Environment.Remove(name);
        start.Environment["AWS_CONFIG_FILE"] = Path.Combine(Output, "no-aws-config");
        start.Environment["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(Output, "no-aws-credentials");
        start.Environment["DOCKER_HOST"] = "unix://" + Path.Combine(Output, "no-docker.sock");
        start.Environment["DataDirectory"] = DataDirectory;
        foreach (var (name, value) in Parameters) start.Environment["Parameters__" + name] = value;

        using var process = Process.Start(start)!;
        var log = process.StandardOutput.ReadToEndAsync(cancel);
        var errors = process.StandardError.ReadToEndAsync(cancel);
        await process.WaitForExitAsync(cancel);
        Assert.True(process.ExitCode == 0, $"publishing failed ({process.ExitCode}): {await log}{await errors}");

        Manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Published, "aspire-manifest.json"), cancel)).RootElement.GetProperty("resources");
        TaskDefinitions = Directory.GetFiles(Path.Combine(Ecs, "task-definitions"), "*.json")
            .ToDictionary(path => Path.GetFileNameWithoutExtension(path), path => JsonDocument.Parse(File.ReadAllText(path)).RootElement);
        Template = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Ecs, "cloudformation.json"), cancel)).RootElement;
    }

    /// <summary>The manifest's project resources: each becomes a task definition.</summary>
    public IEnumerable<string> ProjectResources() =>
        Manifest.EnumerateObject().Where(r => r.Value.GetProperty("type").GetString() == "project.v0").Select(r => r.Name);

    public bool IsSecretParameter(string name) =>
        Manifest.TryGetProperty(name, out var resource) && resource.TryGetProperty("inputs", out var inputs)
        && inputs.GetProperty("value").TryGetProperty("secret", out var secret) && secret.GetBoolean();

    /// <summary>
    /// What a manifest value should be in the task definition: a parameter's publish-time value, another service's
    /// Service Connect address, the container's port.
    /// </summary>
    public static string Expected(string manifestValue) => ManifestExpression().Replace(manifestValue, match => match.Groups[2].Value switch
    {
        "value" => Parameters[match.Groups[1].Value],
        "bindings.http.url" => $"http://{match.Groups[1].Value}.{Namespace}:8080",
        "bindings.http.targetPort" => "8080",
        var other => throw new InvalidOperationException($"The test does not know the manifest expression {{{match.Groups[1].Value}.{other}}}."),
    });

    [GeneratedRegex(@"\{([a-z0-9-]+)\.([a-zA-Z.]+)\}")]
    private static partial Regex ManifestExpression();

    public ValueTask DisposeAsync()
    {
        TestDirectories.Delete(Output);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Publishing the graph for ECS: the task definitions register on ECS (moto) as written and say what the graph says;
/// nothing of a local run leaks into them; the CloudFormation template names what the deployment needs and moto's
/// CloudFormation creates it.
/// </summary>
public sealed class EcsPublishingTests(PublishedEcsDeployment published, MotoServer moto) : IClassFixture<PublishedEcsDeployment>, IClassFixture<MotoServer>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_published_task_definition_registers_on_ECS_as_written()
    {
        var files = Directory.GetFiles(published.Ecs, "*.json", SearchOption.AllDirectories).Where(path => !path.EndsWith("cloudformation.json", StringComparison.Ordinal)).Order().ToList();
        Assert.Equal(["dns-rewrite", "healthcheck", "migrations", "proxy", "proxy-migrations", "tool-example", "web"], files.Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal));

        foreach (var file in files)
        {
            // The CLI checks the document against ECS's API model before sending it, then moto registers it.
            var registered = (await AwsAsync("ecs", "register-task-definition", "--cli-input-json", "file://" + file)).GetProperty("taskDefinition");
            using var written = JsonDocument.Parse(await File.ReadAllTextAsync(file, Cancel));
            Assert.Equal(written.RootElement.GetProperty("family").GetString(), registered.GetProperty("family").GetString());
            Assert.Equal("ACTIVE", registered.GetProperty("status").GetString());
            Assert.Equal(["FARGATE"], registered.GetProperty("requiresCompatibilities").EnumerateArray().Select(c => c.GetString()));
            Assert.Equal("awsvpc", registered.GetProperty("networkMode").GetString());
            Assert.Equal(
                written.RootElement.GetProperty("containerDefinitions").EnumerateArray().Select(c => c.GetProperty("name").GetString()),
                registered.GetProperty("containerDefinitions").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        }
    }

    [Fact]
    public void Each_task_definition_has_its_resources_environment_arguments_and_secrets_from_the_graph()
    {
        Assert.Equal(published.ProjectResources().Order(StringComparer.Ordinal), published.TaskDefinitions.Keys.Order(StringComparer.Ordinal));
        foreach (var name in published.ProjectResources())
        {
            var definition = published.TaskDefinitions[name];
            Assert.Equal($"dataworkspace-{name}", definition.GetProperty("family").GetString());
            Assert.Equal(PublishedEcsDeployment.Parameters["execution-role-arn"], definition.GetProperty("executionRoleArn").GetString());
            var container = Assert.Single(definition.GetProperty("containerDefinitions").EnumerateArray());
            var image = container.GetProperty("image").GetString()!;
            Assert.Matches($"^{Regex.Escape(PublishedEcsDeployment.Registry)}/dataworkspace-(web|proxy|sidecars):2026\\.12\\.05$", image);

            var log = container.GetProperty("logConfiguration");
            Assert.Equal("awslogs", log.GetProperty("logDriver").GetString());
            Assert.Equal("eu-west-2", log.GetProperty("options").GetProperty("awslogs-region").GetString());

            var resource = published.Manifest.GetProperty(name);
            var environment = container.GetProperty("environment").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("value").GetString()!);
            var secrets = container.TryGetProperty("secrets", out var s)
                ? s.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("valueFrom").GetString()!)
                : [];
            var expectedEnvironment = new Dictionary<string, string>();
            var expectedSecrets = new Dictionary<string, string>();
            foreach (var variable in resource.GetProperty("env").EnumerateObject())
            {
                var value = variable.Value.GetString()!;
                // A secret parameter, or a connection string (always secret), is read by ECS from SSM, never written down.
                if (Regex.Match(value, @"^\{([a-z0-9-]+)\.(value|connectionString)\}$") is { Success: true } whole && (whole.Groups[2].Value == "connectionString" || published.IsSecretParameter(whole.Groups[1].Value)))
                {
                    Assert.True(published.IsSecretParameter(whole.Groups[1].Value), $"{name}'s {variable.Name} comes from {whole.Groups[1].Value}, which is not secret");
                    expectedSecrets[variable.Name] = "/dataworkspace/" + whole.Groups[1].Value;
                }
                else
                {
                    expectedEnvironment[variable.Name] = PublishedEcsDeployment.Expected(value);
                }
            }

            Assert.Equal(expectedEnvironment.OrderBy(e => e.Key, StringComparer.Ordinal), environment.OrderBy(e => e.Key, StringComparer.Ordinal));
            Assert.Equal(expectedSecrets.OrderBy(e => e.Key, StringComparer.Ordinal), secrets.OrderBy(e => e.Key, StringComparer.Ordinal));

            var arguments = resource.TryGetProperty("args", out var args) ? args.EnumerateArray().Select(a => a.GetString()).ToList() : [];
            var command = container.TryGetProperty("command", out var c) ? c.EnumerateArray().Select(a => a.GetString()).ToList() : [];
            Assert.Equal(arguments, command);
        }

        // The proxy reaches the web app by its Service Connect name, on the port the web app's container serves.
        var proxy = EnvironmentOf(published.TaskDefinitions["proxy"]);
        Assert.Equal($"http://web.{PublishedEcsDeployment.Namespace}:8080", proxy["Proxy__WebUrl"]);
        Assert.Equal("8080", EnvironmentOf(published.TaskDefinitions["web"])["HTTP_PORTS"]);
        Assert.Equal(PublishedEcsDeployment.RootDomain, proxy["Proxy__RootDomain"]);
        Assert.Equal($"https://{PublishedEcsDeployment.RootDomain}", EnvironmentOf(published.TaskDefinitions["web"])["Storage__BrowserOrigins__0"]);
        // The files page spreads its uploads over the bucket's regional and dual-stack host names; the portal's CSP allows both.
        var (bucket, region) = (PublishedEcsDeployment.Parameters["files-bucket"], PublishedEcsDeployment.Parameters["aws-region"]);
        var webTask = EnvironmentOf(published.TaskDefinitions["web"]);
        Assert.Equal([$"https://s3.{region}.amazonaws.com", $"https://s3.dualstack.{region}.amazonaws.com"], new[] { webTask["Storage__BrowserEndpoints__0"], webTask["Storage__BrowserEndpoints__1"] });
        Assert.Equal([$"https://{bucket}.s3.{region}.amazonaws.com", $"https://{bucket}.s3.dualstack.{region}.amazonaws.com"], new[] { proxy["Proxy__FilesOrigin"], proxy["Proxy__FilesOrigins__0"] });
        Assert.Equal(PublishedEcsDeployment.Parameters["web-task-role-arn"], published.TaskDefinitions["web"].GetProperty("taskRoleArn").GetString());
        Assert.Equal(["migrate"], Container(published.TaskDefinitions["migrations"]).GetProperty("command").EnumerateArray().Select(a => a.GetString()));

        // Every secret parameter of the graph is read from SSM by some task, and is nowhere a plain value.
        var secretParameters = published.Manifest.EnumerateObject().Where(r => published.IsSecretParameter(r.Name)).Select(r => r.Name).ToList();
        Assert.Equal(["catalogue", "datasets", "identity-signing-key", "oidc-client-secret", "prometheus-password"], secretParameters.Order(StringComparer.Ordinal));
        var referenced = published.TaskDefinitions.Values.SelectMany(d => Container(d).TryGetProperty("secrets", out var s) ? s.EnumerateArray() : Enumerable.Empty<JsonElement>())
            .Select(secret => secret.GetProperty("valueFrom").GetString()!).ToHashSet();
        foreach (var secret in secretParameters) Assert.Contains("/dataworkspace/" + secret, referenced);
    }

    [Fact]
    public void Services_are_sized_checked_and_listen_where_the_graph_says_and_one_off_tasks_only_run()
    {
        foreach (var (name, healthPath) in new[] { ("web", "/health"), ("proxy", "/healthcheck") })
        {
            var container = Container(published.TaskDefinitions[name]);
            var port = Assert.Single(container.GetProperty("portMappings").EnumerateArray());
            Assert.Equal((8080, "http"), (port.GetProperty("containerPort").GetInt32(), port.GetProperty("name").GetString()));
            // The images carry no curl: bash asks the app's own health endpoint on its port.
            var check = container.GetProperty("healthCheck").GetProperty("command").EnumerateArray().Select(a => a.GetString()!).ToList();
            Assert.Equal(["CMD", "bash", "-c"], check.Take(3));
            Assert.Contains("/dev/tcp/localhost/8080", check[3]);
            Assert.Contains($"GET {healthPath} ", check[3]);
        }

        var dns = Container(published.TaskDefinitions["dns-rewrite"]);
        Assert.Equal(["5353/udp", "5353/tcp", "8053/tcp"], dns.GetProperty("portMappings").EnumerateArray().Select(p => $"{p.GetProperty("containerPort").GetInt32()}/{p.GetProperty("protocol").GetString()}"));
        Assert.Equal(["CMD", "/app/dataworkspace-sidecar", "healthcheck", "--url", "http://localhost:8053/health"], dns.GetProperty("healthCheck").GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(["dns-rewrite"], dns.GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        // Its image's user is not root: it listens on 5353, where the tools' DNS load balancer forwards their port 53.
        Assert.Equal("0.0.0.0:5353", EnvironmentOf(published.TaskDefinitions["dns-rewrite"])["DNS_REWRITE_LISTEN"]);
        Assert.False(dns.TryGetProperty("systemControls", out _), "dns-rewrite needs no kernel setting to listen on an unprivileged port");

        // The healthcheck sidecar an uptime monitor calls: HTTP on 8080, checked on /check_alb, asking the web app's health.
        var healthcheck = Container(published.TaskDefinitions["healthcheck"]);
        var healthcheckPort = Assert.Single(healthcheck.GetProperty("portMappings").EnumerateArray());
        Assert.Equal((8080, "http"), (healthcheckPort.GetProperty("containerPort").GetInt32(), healthcheckPort.GetProperty("name").GetString()));
        Assert.Equal(["CMD", "/app/dataworkspace-sidecar", "healthcheck", "--url", "http://localhost:8080/check_alb"], healthcheck.GetProperty("healthCheck").GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(["healthcheck-server"], healthcheck.GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal($"http://web.{PublishedEcsDeployment.Namespace}:8080/health", EnvironmentOf(published.TaskDefinitions["healthcheck"])["HEALTHCHECK_CHECK_URL"]);
        Assert.Equal("0.0.0.0:8080", EnvironmentOf(published.TaskDefinitions["healthcheck"])["HEALTHCHECK_LISTEN"]);

        foreach (var name in new[] { "migrations", "proxy-migrations" })
        {
            var container = Container(published.TaskDefinitions[name]);
            Assert.False(container.TryGetProperty("portMappings", out _), $"{name} is a one-off task and serves nothing");
            Assert.False(container.TryGetProperty("healthCheck", out _), $"{name} is a one-off task and is not checked");
        }

        // The tools' task as the launcher registers it: the tool, and the s3sync and metrics sidecars beside it, after
        // home-owner has given the home volume to the tool's user.
        using var tool = JsonDocument.Parse(File.ReadAllText(Path.Combine(published.Ecs, "tools", "tool-example.json")));
        var containers = tool.RootElement.GetProperty("containerDefinitions").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
        Assert.Equal(["tool", "home-owner", "s3sync", "metrics"], containers.Keys);
        Assert.Equal("0", containers["home-owner"].GetProperty("user").GetString());
        Assert.Equal("home-owner", containers["s3sync"].GetProperty("dependsOn")[0].GetProperty("containerName").GetString());
        Assert.Equal(["s3sync", "--local", "/home/analyst"], containers["s3sync"].GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("1654:1654", containers["s3sync"].GetProperty("user").GetString());
        Assert.Equal(8889, containers["metrics"].GetProperty("portMappings")[0].GetProperty("containerPort").GetInt32());
        Assert.Equal($"{PublishedEcsDeployment.Registry}/dataworkspace-sidecars:2026.12.05", containers["s3sync"].GetProperty("image").GetString());
        Assert.Equal("dataworkspace-tools", containers["tool"].GetProperty("logConfiguration").GetProperty("options").GetProperty("awslogs-group").GetString());
        Assert.Equal(PublishedEcsDeployment.Parameters["tools-role-arn"], tool.RootElement.GetProperty("taskRoleArn").GetString());
        // The web app registers tools with the same sidecars image.
        Assert.Equal($"{PublishedEcsDeployment.Registry}/dataworkspace-sidecars:2026.12.05", EnvironmentOf(published.TaskDefinitions["web"])["Tools__Ecs__SidecarImage"]);
    }

    [Fact]
    public async Task Nothing_published_holds_a_loopback_address_a_local_secret_an_emulator_or_a_local_path()
    {
        var files = Directory.GetFiles(published.Published, "*", SearchOption.AllDirectories);
        Assert.Contains(files, path => path.EndsWith("aspire-manifest.json", StringComparison.Ordinal));
        var repository = Path.GetDirectoryName(Path.GetDirectoryName(Projects.DataWorkspace_AppHost.ProjectPath))!;
        var forbidden = new List<string>
        {
            "127.0.0.1", "localhost", "[::1]", "0:0:0:0:0:0:0:1", "::1/128", ".localhost",
            // The emulator and the local run's own settings.
            "moto", ":4566", "Aws__ServiceUrl", "AWS_ENDPOINT_URL", "Tools__LocalWorkDirectory", "Tools__LocalSidecars", "Migrations__StartAfresh",
            "DevIdentity", "MachineApi__Clients__demo", "RequireHttpsMetadata", "this-machine", "--demo-data",
            // Local paths.
            published.DataDirectory, repository, "/var/lib/dataworkspace", Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + "/",
        };
        forbidden.AddRange(published.LocalSecrets);

        foreach (var file in files)
        {
            var text = await File.ReadAllTextAsync(file, Cancel);
            // A container's health check runs inside its task and asks the task itself: the one place a loopback name
            // belongs. The manifest's project paths say where each project's source is, relative to the manifest.
            if (file.EndsWith(".json", StringComparison.Ordinal)) text = Without(text, "healthCheck", "HealthCheck", "path");
            foreach (var value in forbidden)
                Assert.False(text.Contains(value, StringComparison.OrdinalIgnoreCase), $"{Path.GetRelativePath(published.Published, file)} holds '{value}'");
        }
    }

    [Fact]
    public void The_CloudFormation_template_names_every_part_of_the_deployment()
    {
        var resources = published.Template.GetProperty("Resources").EnumerateObject().ToDictionary(r => r.Name, r => r.Value);
        string Type(string id) => resources[id].GetProperty("Type").GetString()!;
        Assert.Equal("AWS::ECS::Cluster", Type("Cluster"));
        foreach (var name in new[] { "Web", "Proxy", "Migrations", "ProxyMigrations", "DnsRewrite", "Healthcheck" })
            Assert.Equal("AWS::ECS::TaskDefinition", Type(name + "TaskDefinition"));

        // Services: desired counts, circuit breakers that roll back, private subnets.
        var services = resources.Where(r => Type(r.Key) == "AWS::ECS::Service").ToDictionary(r => r.Value.GetProperty("Properties").GetProperty("ServiceName").GetString()!, r => r.Value.GetProperty("Properties"));
        Assert.Equal(["dns-rewrite", "healthcheck", "proxy", "web"], services.Keys.Order(StringComparer.Ordinal));
        foreach (var service in services.Values)
        {
            Assert.Equal(2, service.GetProperty("DesiredCount").GetInt32());
            var breaker = service.GetProperty("DeploymentConfiguration").GetProperty("DeploymentCircuitBreaker");
            Assert.True(breaker.GetProperty("Enable").GetBoolean() && breaker.GetProperty("Rollback").GetBoolean());
            Assert.Equal("DISABLED", service.GetProperty("NetworkConfiguration").GetProperty("AwsvpcConfiguration").GetProperty("AssignPublicIp").GetString());
        }

        Assert.Equal("web", services["web"].GetProperty("ServiceConnectConfiguration").GetProperty("Services")[0].GetProperty("DiscoveryName").GetString());
        Assert.Equal("ProxyTargetGroup", services["proxy"].GetProperty("LoadBalancers")[0].GetProperty("TargetGroupArn").GetProperty("Ref").GetString());

        // The load balancer: the root host and every tool host go to the proxy, checked on its session-free endpoint.
        Assert.Equal("AWS::ElasticLoadBalancingV2::LoadBalancer", Type("LoadBalancer"));
        Assert.Equal("AWS::ElasticLoadBalancingV2::TargetGroup", Type("ProxyTargetGroup"));
        Assert.Equal("/healthcheck", resources["ProxyTargetGroup"].GetProperty("Properties").GetProperty("HealthCheckPath").GetString());
        var hosts = resources.Where(r => Type(r.Key) == "AWS::ElasticLoadBalancingV2::ListenerRule")
            .Select(r => r.Value.GetProperty("Properties").GetProperty("Conditions")[0].GetProperty("HostHeaderConfig").GetProperty("Values")[0].GetProperty("Fn::Sub").GetString()!)
            .OrderBy(host => host.Length);
        Assert.Equal(["${RootDomain}", "*.${RootDomain}", "healthcheck.${RootDomain}"], hosts);

        // healthcheck.<root domain> goes to the healthcheck service, tried before the proxy's wildcard that matches it too.
        int Priority(string rule) => resources[rule].GetProperty("Properties").GetProperty("Priority").GetInt32();
        Assert.True(Priority("HealthcheckHostRule") < Priority("ProxyToolHostsRule"), "the healthcheck host rule must come before the proxy's wildcard rule");
        Assert.Equal("HealthcheckTargetGroup", resources["HealthcheckHostRule"].GetProperty("Properties").GetProperty("Actions")[0].GetProperty("TargetGroupArn").GetProperty("Ref").GetString());
        Assert.Equal("/check_alb", resources["HealthcheckTargetGroup"].GetProperty("Properties").GetProperty("HealthCheckPath").GetString());
        Assert.Equal("HealthcheckTargetGroup", services["healthcheck"].GetProperty("LoadBalancers")[0].GetProperty("TargetGroupArn").GetProperty("Ref").GetString());

        foreach (var group in new[] { "LoadBalancerSecurityGroup", "ServiceSecurityGroup", "ToolsSecurityGroup", "DnsSecurityGroup" })
            Assert.Equal("AWS::EC2::SecurityGroup", Type(group));

        // The files bucket with the CORS rule the "Your files" page needs, for the portal's origin.
        Assert.Equal("AWS::S3::Bucket", Type("FilesBucket"));
        var cors = Assert.Single(resources["FilesBucket"].GetProperty("Properties").GetProperty("CorsConfiguration").GetProperty("CorsRules").EnumerateArray());
        Assert.Equal(["https://${RootDomain}"], cors.GetProperty("AllowedOrigins").EnumerateArray().Select(o => o.GetProperty("Fn::Sub").GetString()));
        Assert.Equal(["GET", "POST", "PUT", "HEAD"], cors.GetProperty("AllowedMethods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(["ETag"], cors.GetProperty("ExposedHeaders").EnumerateArray().Select(m => m.GetString()));

        // Roles: ECS's execution role reads the secrets; the web app's role may assume the tools role, which trusts it.
        foreach (var role in new[] { "ExecutionRole", "WebTaskRole", "ToolsRole" }) Assert.Equal("AWS::IAM::Role", Type(role));
        Assert.Contains("ssm:GetParameters", resources["ExecutionRole"].GetRawText());
        Assert.Contains("WebTaskRole", resources["ToolsRole"].GetProperty("Properties").GetProperty("AssumeRolePolicyDocument").GetRawText());
        Assert.Contains("sts:AssumeRole", resources["WebTaskPolicy"].GetRawText());

        // The web app's task definition in the stack takes the tools' settings from what the stack makes.
        var webEnvironment = resources["WebTaskDefinition"].GetProperty("Properties").GetProperty("ContainerDefinitions")[0].GetProperty("Environment").EnumerateArray()
            .ToDictionary(e => e.GetProperty("Name").GetString()!, e => e.GetProperty("Value"));
        Assert.Equal("${ToolsRole.Arn}", webEnvironment["Storage__ToolRoleArn"].GetProperty("Fn::Sub").GetString());
        Assert.Equal("${Cluster}", webEnvironment["Tools__Ecs__Cluster"].GetProperty("Fn::Sub").GetString());

        // The tools' DNS: their VPC's DHCP options name two fixed addresses of an internal network load balancer in the
        // platform's private subnets, which forwards UDP and TCP 53 to dns-rewrite's 5353, checked on its health port.
        JsonElement Properties(string id) => resources[id].GetProperty("Properties");
        Assert.Equal("AWS::ElasticLoadBalancingV2::LoadBalancer", Type("ToolsDnsLoadBalancer"));
        Assert.Equal(("network", "internal"), (Properties("ToolsDnsLoadBalancer").GetProperty("Type").GetString(), Properties("ToolsDnsLoadBalancer").GetProperty("Scheme").GetString()));
        var mappings = Properties("ToolsDnsLoadBalancer").GetProperty("SubnetMappings").EnumerateArray().ToList();
        Assert.Equal(2, mappings.Count);
        for (var i = 0; i < mappings.Count; i++)
        {
            Assert.Equal($"[{i},{{\"Ref\":\"PrivateSubnets\"}}]", mappings[i].GetProperty("SubnetId").GetProperty("Fn::Select").GetRawText().Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));
            Assert.Equal($"[{i},{{\"Ref\":\"DnsAddresses\"}}]", mappings[i].GetProperty("PrivateIPv4Address").GetProperty("Fn::Select").GetRawText().Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));
        }
        Assert.Equal(("TCP_UDP", 53, "ToolsDnsTargetGroup"), (Properties("ToolsDnsListener").GetProperty("Protocol").GetString(), Properties("ToolsDnsListener").GetProperty("Port").GetInt32(),
            Properties("ToolsDnsListener").GetProperty("DefaultActions")[0].GetProperty("TargetGroupArn").GetProperty("Ref").GetString()));
        var dnsTargets = Properties("ToolsDnsTargetGroup");
        Assert.Equal(("TCP_UDP", 5353, "ip", "HTTP", "8053", "/health"), (dnsTargets.GetProperty("Protocol").GetString(), dnsTargets.GetProperty("Port").GetInt32(), dnsTargets.GetProperty("TargetType").GetString(),
            dnsTargets.GetProperty("HealthCheckProtocol").GetString(), dnsTargets.GetProperty("HealthCheckPort").GetString(), dnsTargets.GetProperty("HealthCheckPath").GetString()));
        var dnsService = services["dns-rewrite"].GetProperty("LoadBalancers")[0];
        Assert.Equal(("dns-rewrite", 5353, "ToolsDnsTargetGroup"), (dnsService.GetProperty("ContainerName").GetString(), dnsService.GetProperty("ContainerPort").GetInt32(), dnsService.GetProperty("TargetGroupArn").GetProperty("Ref").GetString()));
        Assert.Equal("AWS::EC2::DHCPOptions", Type("ToolsDhcpOptions"));
        Assert.Equal("DnsAddresses", Properties("ToolsDhcpOptions").GetProperty("DomainNameServers").GetProperty("Ref").GetString());
        Assert.Equal("AWS::EC2::VPCDHCPOptionsAssociation", Type("ToolsDhcpOptionsAssociation"));
        Assert.Equal(("ToolsVpcId", "ToolsDhcpOptions"), (Properties("ToolsDhcpOptionsAssociation").GetProperty("VpcId").GetProperty("Ref").GetString(), Properties("ToolsDhcpOptionsAssociation").GetProperty("DhcpOptionsId").GetProperty("Ref").GetString()));
        Assert.Equal("ToolsVpcId", Properties("ToolsSecurityGroup").GetProperty("VpcId").GetProperty("Ref").GetString());
        // Who may ask: the tools reach the load balancer on 53; dns-rewrite takes 5353 (and its health port) from the load balancer, and from the tools, whose addresses UDP keeps.
        var ingress = resources.Where(r => Type(r.Key) == "AWS::EC2::SecurityGroupIngress" && r.Value.GetProperty("Properties").GetProperty("GroupId").GetProperty("Ref").GetString() == "DnsSecurityGroup")
            .Select(r => $"{r.Value.GetProperty("Properties").GetProperty("IpProtocol").GetString()}/{r.Value.GetProperty("Properties").GetProperty("FromPort").GetInt32()} from {r.Value.GetProperty("Properties").GetProperty("SourceSecurityGroupId").GetProperty("Ref").GetString()}")
            .Order(StringComparer.Ordinal);
        Assert.Equal(["tcp/5353 from ToolsDnsSecurityGroup", "tcp/5353 from ToolsSecurityGroup", "tcp/8053 from ToolsDnsSecurityGroup", "udp/5353 from ToolsDnsSecurityGroup", "udp/5353 from ToolsSecurityGroup"], ingress);
        Assert.Equal(["tcp/53", "udp/53"], Properties("ToolsDnsSecurityGroup").GetProperty("SecurityGroupIngress").EnumerateArray()
            .Where(rule => rule.GetProperty("SourceSecurityGroupId").GetProperty("Ref").GetString() == "ToolsSecurityGroup")
            .Select(rule => $"{rule.GetProperty("IpProtocol").GetString()}/{rule.GetProperty("FromPort").GetInt32()}").Order(StringComparer.Ordinal));
        // The web app launches tools in the tools VPC's subnets.
        Assert.Contains("ToolsSubnets", webEnvironment["Tools__Ecs__Subnets__0"].GetRawText());

        var parameters = published.Template.GetProperty("Parameters").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var parameter in new[] { "ToolsVpcId", "ToolsSubnets", "DnsAddresses", "VpcId", "PublicSubnets", "PrivateSubnets", "CertificateArn", "FilesBucketName", "RootDomain", "ImageRegistry", "ImageTag", "OidcAuthority", "OidcClientId", "IpAllowList", "DnsUpstream", "AdminEmail" })
            Assert.Contains(parameter, parameters);
    }

    /// <summary>
    /// moto 5.2.1's CloudFormation creates every resource type the template uses (ECS cluster, task definitions and
    /// services, ELBv2 load balancer, listeners, rules and target group, EC2 security groups and ingress rules, IAM
    /// roles and policy, S3 bucket, CloudWatch log groups). It checks the listener's certificate exists in ACM, so the
    /// test requests one there first. Of the bucket's properties it applies only encryption and tags (see below).
    /// Three parts of the tools' DNS it cannot make, so the test leaves them out of the stack it creates there (the
    /// template test checks them): moto's AWS::ElasticLoadBalancingV2::LoadBalancer reads Subnets but not SubnetMappings
    /// (nor Type), so the network load balancer at fixed addresses fails with SubnetNotFound, and its TCP_UDP listener
    /// goes with it; AWS::EC2::DHCPOptions and AWS::EC2::VPCDHCPOptionsAssociation have no moto CloudFormation support
    /// (it logs "No Moto CloudFormation support for ..." and lists each as a resource with no id, type or physical id).
    /// </summary>
    [Fact]
    public async Task Moto_creates_the_stack_from_the_template()
    {
        var vpc = (await AwsAsync("ec2", "describe-vpcs")).GetProperty("Vpcs")[0].GetProperty("VpcId").GetString()!;
        var subnetList = (await AwsAsync("ec2", "describe-subnets")).GetProperty("Subnets").EnumerateArray().ToList();
        var subnets = string.Join(',', subnetList.Select(s => s.GetProperty("SubnetId").GetString()));
        // dns-rewrite's fixed addresses: one free address in each of the first two private subnets.
        var dnsAddresses = string.Join(',', subnetList.Take(2).Select(s =>
        {
            var network = System.Net.IPAddress.Parse(s.GetProperty("CidrBlock").GetString()!.Split('/')[0]).GetAddressBytes();
            network[3] += 53;
            return new System.Net.IPAddress(network).ToString();
        }));
        var certificate = (await AwsAsync("acm", "request-certificate", "--domain-name", PublishedEcsDeployment.RootDomain,
            "--subject-alternative-names", "*." + PublishedEcsDeployment.RootDomain)).GetProperty("CertificateArn").GetString()!;
        var stack = "dw-" + Guid.NewGuid().ToString("N")[..8];
        var bucket = "dw-files-" + Guid.NewGuid().ToString("N")[..8];
        string[] values =
        [
            $"ParameterKey=VpcId,ParameterValue={vpc}",
            $"ParameterKey=PublicSubnets,ParameterValue='{subnets}'",
            $"ParameterKey=PrivateSubnets,ParameterValue='{subnets}'",
            $"ParameterKey=CertificateArn,ParameterValue={certificate}",
            $"ParameterKey=FilesBucketName,ParameterValue={bucket}",
            $"ParameterKey=ToolsVpcId,ParameterValue={vpc}",
            $"ParameterKey=ToolsSubnets,ParameterValue='{subnets}'",
            $"ParameterKey=DnsAddresses,ParameterValue='{dnsAddresses}'",
            .. published.Template.GetProperty("Parameters").EnumerateObject()
                .Where(p => p.Name is not ("VpcId" or "PublicSubnets" or "PrivateSubnets" or "CertificateArn" or "FilesBucketName" or "ToolsVpcId" or "ToolsSubnets" or "DnsAddresses"))
                .Select(p => $"ParameterKey={p.Name},ParameterValue={ParameterValue(p.Name)}"),
        ];
        string[] notOnMoto = ["ToolsDnsLoadBalancer", "ToolsDnsListener"];
        string[] skippedByMoto = ["ToolsDhcpOptions", "ToolsDhcpOptionsAssociation"];
        var template = System.Text.Json.Nodes.JsonNode.Parse(published.Template.GetRawText())!;
        foreach (var id in notOnMoto) template["Resources"]!.AsObject().Remove(id);
        var dnsDependsOn = template["Resources"]!["DnsRewriteService"]!["DependsOn"]!.AsArray();
        dnsDependsOn.Remove(dnsDependsOn.Single(d => d!.GetValue<string>() == "ToolsDnsListener"));
        var motoTemplate = Path.Combine(published.Output, "cloudformation-moto.json");
        await File.WriteAllTextAsync(motoTemplate, template.ToJsonString(), Cancel);
        await AwsAsync(["cloudformation", "create-stack", "--stack-name", stack, "--capabilities", "CAPABILITY_NAMED_IAM",
            "--template-body", "file://" + motoTemplate, "--parameters", .. values]);

        var created = (await AwsAsync("cloudformation", "describe-stacks", "--stack-name", stack)).GetProperty("Stacks")[0];
        var events = await AwsAsync("cloudformation", "describe-stack-events", "--stack-name", stack);
        var failures = events.GetProperty("StackEvents").EnumerateArray().Where(e => e.GetProperty("ResourceStatus").GetString()!.Contains("FAILED", StringComparison.Ordinal))
            .Select(e => $"{e.GetProperty("LogicalResourceId").GetString()}: {(e.TryGetProperty("ResourceStatusReason", out var reason) ? reason.GetString() : "")}");
        Assert.True(created.GetProperty("StackStatus").GetString() == "CREATE_COMPLETE", $"the stack is {created.GetProperty("StackStatus").GetString()}: {string.Join("; ", failures)}");

        var listed = (await AwsAsync("cloudformation", "list-stack-resources", "--stack-name", stack)).GetProperty("StackResourceSummaries").EnumerateArray().ToList();
        Assert.Equal(skippedByMoto.Length, listed.Count(r => r.GetProperty("LogicalResourceId").GetString() is "" && r.GetProperty("ResourceType").GetString() is ""));
        var resources = listed.Where(r => r.GetProperty("LogicalResourceId").GetString() is not "").ToDictionary(r => r.GetProperty("LogicalResourceId").GetString()!);
        Assert.Equal(published.Template.GetProperty("Resources").EnumerateObject().Select(r => r.Name).Except(notOnMoto).Except(skippedByMoto).Order(StringComparer.Ordinal), resources.Keys.Order(StringComparer.Ordinal));
        Assert.All(resources.Values, r => Assert.Equal("CREATE_COMPLETE", r.GetProperty("ResourceStatus").GetString()));

        // What moto made: the services at their desired counts, the tasks registered from the template, the host rules.
        var services = (await AwsAsync("ecs", "describe-services", "--cluster", stack, "--services", "web", "proxy", "dns-rewrite", "healthcheck")).GetProperty("services").EnumerateArray().ToList();
        Assert.Equal(["dns-rewrite", "healthcheck", "proxy", "web"], services.Select(service => service.GetProperty("serviceName").GetString()).Order(StringComparer.Ordinal));
        Assert.All(services, service => Assert.Equal(2, service.GetProperty("desiredCount").GetInt32()));
        var proxy = (await AwsAsync("ecs", "describe-task-definition", "--task-definition", resources["ProxyTaskDefinition"].GetProperty("PhysicalResourceId").GetString()!)).GetProperty("taskDefinition");
        Assert.Contains(proxy.GetProperty("containerDefinitions")[0].GetProperty("environment").EnumerateArray(),
            e => e.GetProperty("name").GetString() == "Proxy__RootDomain" && e.GetProperty("value").GetString() == PublishedEcsDeployment.RootDomain);
        var rules = (await AwsAsync("elbv2", "describe-rules", "--listener-arn", resources["HttpsListener"].GetProperty("PhysicalResourceId").GetString()!)).GetProperty("Rules").EnumerateArray()
            .SelectMany(rule => rule.GetProperty("Conditions").EnumerateArray())
            .SelectMany(condition => condition.GetProperty("HostHeaderConfig").GetProperty("Values").EnumerateArray()).Select(value => value.GetString());
        Assert.Equal([PublishedEcsDeployment.RootDomain, "*." + PublishedEcsDeployment.RootDomain, "healthcheck." + PublishedEcsDeployment.RootDomain], rules.OrderBy(host => host!.Length));
        // dns-rewrite's targets: UDP and TCP on 5353, checked over HTTP on its health port.
        var dnsTargets = (await AwsAsync("elbv2", "describe-target-groups", "--target-group-arns", resources["ToolsDnsTargetGroup"].GetProperty("PhysicalResourceId").GetString()!)).GetProperty("TargetGroups")[0];
        Assert.Equal(("TCP_UDP", 5353, "8053"), (dnsTargets.GetProperty("Protocol").GetString(), dnsTargets.GetProperty("Port").GetInt32(), dnsTargets.GetProperty("HealthCheckPort").GetString()));
        // moto's CloudFormation makes the bucket but applies only its encryption and tags of the properties: it passes
        // over CorsConfiguration and LifecycleConfiguration (the template test checks the CORS rule; the web app also sets it at start).
        await AwsAsync("s3api", "head-bucket", "--bucket", bucket);
        Assert.Equal("AES256", (await AwsAsync("s3api", "get-bucket-encryption", "--bucket", bucket)).GetProperty("ServerSideEncryptionConfiguration").GetProperty("Rules")[0]
            .GetProperty("ApplyServerSideEncryptionByDefault").GetProperty("SSEAlgorithm").GetString());
        var stackOutputs = created.GetProperty("Outputs").EnumerateArray().ToDictionary(o => o.GetProperty("OutputKey").GetString()!, o => o.GetProperty("OutputValue").GetString());
        Assert.Contains("LoadBalancerDnsName", stackOutputs.Keys);
        Assert.Equal(stack, stackOutputs["ClusterName"]);
    }

    private static string ParameterValue(string logicalId) =>
        PublishedEcsDeployment.Parameters.Single(p => string.Concat(p.Key.Split('-').Select(part => char.ToUpperInvariant(part[0]) + part[1..])) == logicalId).Value;

    private static JsonElement Container(JsonElement definition) => definition.GetProperty("containerDefinitions")[0];

    private static Dictionary<string, string> EnvironmentOf(JsonElement definition) =>
        Container(definition).GetProperty("environment").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("value").GetString()!);

    private static string Without(string json, params string[] properties)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
        void Strip(System.Text.Json.Nodes.JsonNode? current)
        {
            switch (current)
            {
                case System.Text.Json.Nodes.JsonObject o:
                    foreach (var property in properties) o.Remove(property);
                    foreach (var (_, value) in o.ToList()) Strip(value);
                    break;
                case System.Text.Json.Nodes.JsonArray a:
                    foreach (var item in a) Strip(item);
                    break;
            }
        }

        Strip(node);
        return node.ToJsonString();
    }

    /// <summary>Runs the AWS CLI against moto with its test credentials; its JSON answer.</summary>
    private async Task<JsonElement> AwsAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("aws") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["--endpoint-url", moto.Url.ToString().TrimEnd('/'), "--region", MotoServer.Region, "--output", "json", .. arguments])
            start.ArgumentList.Add(argument);
        start.Environment["AWS_ACCESS_KEY_ID"] = MotoServer.AccessKeyId;
        start.Environment["AWS_SECRET_ACCESS_KEY"] = MotoServer.SecretAccessKey;
        start.Environment.Remove("AWS_PROFILE");
        start.Environment.Remove("AWS_SESSION_TOKEN");
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException("The AWS CLI (aws) is not on PATH: this test registers the published task definitions with it (apt-get install awscli).", exception);
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(Cancel);
            var errors = process.StandardError.ReadToEndAsync(Cancel);
            await process.WaitForExitAsync(Cancel);
            Assert.True(process.ExitCode == 0, $"aws {string.Join(' ', arguments.Take(2))} failed ({process.ExitCode}): {await errors}");
            var text = await output;
            return text.Trim().Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
    }
}
