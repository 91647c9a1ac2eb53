#pragma warning disable ASPIREPIPELINES001, ASPIREPIPELINES004
using System.Text.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting.Pipelines;
using DataWorkspace.Deployment.Ecs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.AppHost.Publishing;

/// <summary>A resource as ECS will run it: its task definition (with parameter placeholders) and how it is published.</summary>
public sealed record EcsTask(IResource Resource, EcsTaskAnnotation Settings, RegisterTaskDefinitionRequest Definition)
{
    public string Name => Resource.Name;
}

/// <summary>
/// The publishing step that writes, beside the manifest, what an SRE deploys to ECS: <c>ecs/task-definitions/</c>
/// (one RegisterTaskDefinition document per resource published with <see cref="EcsTaskAnnotation"/>),
/// <c>ecs/tools/</c> (a tool's task as the ECS launcher registers it) and <c>ecs/cloudformation.json</c>.
/// It runs with the manifest publisher and with Aspire's publish pipeline step.
/// </summary>
public static class EcsPublishing
{
    public const string StepName = "publish-ecs";

    /// <summary>The Service Connect namespace the services find each other in.</summary>
    public const string Namespace = "dataworkspace.internal";

    public const string FamilyPrefix = "dataworkspace-";
    public const string LogGroup = "dataworkspace-platform";

    /// <summary>Where in SSM Parameter Store each secret parameter lives: <c>/dataworkspace/&lt;parameter&gt;</c>.</summary>
    public const string SecretsPath = "/dataworkspace/";

    public static string ServiceConnectName(string resource) => $"{resource}.{Namespace}";

    public static void AddEcsPublishing(this IDistributedApplicationBuilder builder, EcsDeployment deployment)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // "publish-manifest" is the step `--publisher manifest` runs; Publish is the pipeline's (`--operation publish --step publish`).
        builder.Pipeline.AddStep(StepName, context => PublishAsync(context, deployment), requiredBy: new[] { WellKnownPipelineSteps.Publish, "publish-manifest" });
    }

    private static async Task PublishAsync(PipelineStepContext context, EcsDeployment deployment)
    {
        var cancellationToken = context.CancellationToken;
        // The manifest publisher's output path names the manifest file; the publish step's names a folder.
        var output = context.Services.GetRequiredService<IPipelineOutputService>().GetOutputDirectory();
        if (Path.GetExtension(output).Equals(".json", StringComparison.OrdinalIgnoreCase)) output = Path.GetDirectoryName(Path.GetFullPath(output))!;
        var ecs = Path.Combine(output, "ecs");

        var tasks = new List<EcsTask>();
        foreach (var resource in context.Model.Resources)
            if (resource.TryGetLastAnnotation<EcsTaskAnnotation>(out var settings))
                tasks.Add(await DescribeAsync(resource, settings, context.ExecutionContext, deployment, cancellationToken));

        // A tool's task as the launcher registers it, at the default size (Medium: 1 vCPU, 8 GB); the image and port are
        // the template's at each launch, here the sidecars image's (every deployment has it).
        var tool = ToolTaskDefinition.Build(new ToolTask(
            "tool-example",
            deployment.ImagePlaceholder(EcsDeployment.SidecarsRepository),
            8888,
            [],
            1024,
            8192,
            EcsValues.Placeholder(deployment.Region.Resource.Name),
            EcsValues.Placeholder(deployment.ExecutionRole.Resource.Name),
            EcsValues.Placeholder(deployment.ToolsRole.Resource.Name),
            deployment.ImagePlaceholder(EcsDeployment.SidecarsRepository)));

        // Task definition files are registered as they are, so they take the parameters' publish-time values.
        var configuration = context.Services.GetRequiredService<IConfiguration>();
        var parameters = context.Model.Resources.OfType<ParameterResource>().ToDictionary(p => p.Name);
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        string Value(string name)
        {
            if (parameters.ContainsKey(name) && configuration[$"Parameters:{name}"] is { Length: > 0 } value) return value;
            missing.Add(name);
            return $"<{name}>";
        }

        Directory.CreateDirectory(Path.Combine(ecs, "task-definitions"));
        Directory.CreateDirectory(Path.Combine(ecs, "tools"));
        foreach (var task in tasks)
            await WriteAsync(Path.Combine(ecs, "task-definitions", task.Name + ".json"), Concrete(task.Definition, Value), cancellationToken);
        await WriteAsync(Path.Combine(ecs, "tools", "tool-example.json"), Concrete(tool, Value), cancellationToken);

        var web = tasks.FirstOrDefault(t => t.Name == "web");
        var browserOrigins = web?.Definition.ContainerDefinitions[0].Environment?.Where(e => e.Name.StartsWith("Storage__BrowserOrigins__", StringComparison.Ordinal)).Select(e => e.Value).ToList() ?? [];
        var template = CloudFormationTemplate.Build(tasks, deployment, browserOrigins);
        await WriteAsync(Path.Combine(ecs, "cloudformation.json"), template, cancellationToken);

        if (missing.Count > 0)
            context.Logger.LogWarning("The ECS task definition files name these parameters with no value at publish time, written as <name>: {Missing}. "
                + "Give them (e.g. Parameters__{Example}=... in the environment) and publish again before registering the files; the CloudFormation template takes them as its own parameters.",
                string.Join(", ", missing), missing.First());
        context.Logger.LogInformation("Wrote the ECS deployment to {Output}: {Count} task definitions, the tools' task definition and cloudformation.json", ecs, tasks.Count);
    }

    /// <summary>The resource's container: its image, arguments, environment (secrets as SSM references), ports, health check and logs.</summary>
    private static async Task<EcsTask> DescribeAsync(IResource resource, EcsTaskAnnotation settings, DistributedApplicationExecutionContext executionContext, EcsDeployment deployment, CancellationToken cancellationToken)
    {
        var variables = new Dictionary<string, object>();
        if (resource.TryGetAnnotationsOfType<EnvironmentCallbackAnnotation>(out var environmentCallbacks))
        {
            var environmentContext = new EnvironmentCallbackContext(executionContext, resource, variables, cancellationToken);
            foreach (var callback in environmentCallbacks) await callback.Callback(environmentContext);
        }

        var arguments = new List<object>();
        if (resource.TryGetAnnotationsOfType<CommandLineArgsCallbackAnnotation>(out var argumentCallbacks))
        {
            var argumentsContext = new CommandLineArgsCallbackContext(arguments, resource, cancellationToken) { ExecutionContext = executionContext };
            foreach (var callback in argumentCallbacks) await callback.Callback(argumentsContext);
        }

        var environment = new List<EnvironmentVariable>();
        var secrets = new List<ContainerSecret>();
        foreach (var (name, value) in variables)
        {
            var resolved = await EcsValues.ResolveAsync(value, $"{resource.Name}'s {name}", cancellationToken);
            if (resolved.Secret is { } secret) secrets.Add(new ContainerSecret(name, SecretsPath + secret.Name));
            else environment.Add(new EnvironmentVariable(name, resolved.Text!));
        }

        var command = new List<string>();
        foreach (var argument in arguments)
        {
            var resolved = await EcsValues.ResolveAsync(argument, $"{resource.Name}'s argument", cancellationToken);
            command.Add(resolved.Text ?? throw new InvalidOperationException($"{resource.Name} has the secret {resolved.Secret!.Name} as an argument: ECS sets secrets only as environment variables."));
        }

        var ports = new List<PortMapping>();
        if (settings.HttpPort is { } httpPort) ports.Add(new PortMapping(httpPort, Name: "http", AppProtocol: "http"));
        ports.AddRange(settings.OtherPorts);
        var region = EcsValues.Placeholder(deployment.Region.Resource.Name);
        var container = new ContainerDefinition
        {
            Name = resource.Name,
            Image = deployment.ImagePlaceholder(settings.Image),
            Command = command.Count > 0 ? command : null,
            Environment = environment,
            Secrets = secrets.Count > 0 ? secrets : null,
            PortMappings = ports.Count > 0 ? ports : null,
            Memory = settings.Memory,
            HealthCheck = settings.HealthCheck,
            SystemControls = settings.SystemControls,
            LogConfiguration = new("awslogs", new Dictionary<string, string>
            {
                ["awslogs-group"] = LogGroup, ["awslogs-region"] = region, ["awslogs-stream-prefix"] = resource.Name,
            }),
        };
        return new EcsTask(resource, settings, new RegisterTaskDefinitionRequest
        {
            Family = FamilyPrefix + resource.Name,
            Cpu = settings.Cpu.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Memory = settings.Memory.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ExecutionRoleArn = EcsValues.Placeholder(deployment.ExecutionRole.Resource.Name),
            TaskRoleArn = settings.TaskRole is { } role ? EcsValues.Placeholder(role.Name) : null,
            ContainerDefinitions = [container],
        });
    }

    /// <summary>The document with every parameter placeholder replaced by <paramref name="value"/>.</summary>
    private static JsonNode Concrete(RegisterTaskDefinitionRequest definition, Func<string, string> value) =>
        MapStrings(JsonSerializer.SerializeToNode(definition, EcsJson.Options)!, text => JsonValue.Create(EcsValues.Fill(text, value)));

    /// <summary>A copy of <paramref name="node"/> with each string value replaced.</summary>
    public static JsonNode MapStrings(JsonNode node, Func<string, JsonNode> map) => node switch
    {
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, p.Value is null ? null : MapStrings(p.Value, map)))),
        JsonArray a => new JsonArray([.. a.Select(item => item is null ? null : MapStrings(item, map))]),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => map(v.GetValue<string>()),
        _ => node.DeepClone(),
    };

    private static async Task WriteAsync(string path, JsonNode document, CancellationToken cancellationToken) =>
        await File.WriteAllTextAsync(path, document.ToJsonString(EcsJson.Options) + "\n", cancellationToken);
}
