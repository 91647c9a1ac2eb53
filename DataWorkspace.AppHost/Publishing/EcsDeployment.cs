namespace DataWorkspace.AppHost.Publishing;

/// <summary>
/// The deployment's own parameters the ECS output needs besides the resources' environment: where images come from,
/// the region, the roles and the tools' place in the network. Each is a graph parameter, so a task definition file
/// gets its publish-time value; the CloudFormation template takes the values it creates itself (roles, cluster,
/// security group, bucket) from its own resources instead.
/// </summary>
public sealed class EcsDeployment
{
    public required IResourceBuilder<ParameterResource> ImageRegistry { get; init; }
    public required IResourceBuilder<ParameterResource> ImageTag { get; init; }
    public required IResourceBuilder<ParameterResource> Region { get; init; }
    public required IResourceBuilder<ParameterResource> RootDomain { get; init; }
    public required IResourceBuilder<ParameterResource> FilesBucket { get; init; }

    /// <summary>The role ECS uses to pull images, write logs and read the secrets, for the platform's tasks and tools' alike.</summary>
    public required IResourceBuilder<ParameterResource> ExecutionRole { get; init; }

    public required IResourceBuilder<ParameterResource> WebTaskRole { get; init; }

    /// <summary>The role each tool session assumes, narrowed by a session policy to its user's prefixes.</summary>
    public required IResourceBuilder<ParameterResource> ToolsRole { get; init; }

    public required IResourceBuilder<ParameterResource> ToolsCluster { get; init; }
    public required IResourceBuilder<ParameterResource> ToolsSubnets { get; init; }
    public required IResourceBuilder<ParameterResource> ToolsSecurityGroups { get; init; }

    /// <summary>The sidecars image's repository: s3sync and metrics beside each tool, and dns-rewrite.</summary>
    public const string SidecarsRepository = "dataworkspace-sidecars";

    /// <summary><c>&lt;registry&gt;/&lt;repository&gt;:&lt;tag&gt;</c>, for a resource's environment.</summary>
    public ReferenceExpression Image(string repository) => ReferenceExpression.Create($"{ImageRegistry}/{repository}:{ImageTag}");

    /// <summary>The same, with the parameters as placeholders, for a task definition's own fields.</summary>
    public string ImagePlaceholder(string repository) =>
        $"{EcsValues.Placeholder(ImageRegistry.Resource.Name)}/{repository}:{EcsValues.Placeholder(ImageTag.Resource.Name)}";

    /// <summary>The deployment parameters the CloudFormation template fills from what it creates (a Fn::Sub variable for each).</summary>
    public IReadOnlyDictionary<string, string> FromStack => new Dictionary<string, string>
    {
        [Region.Resource.Name] = "AWS::Region",
        [ExecutionRole.Resource.Name] = "ExecutionRole.Arn",
        [WebTaskRole.Resource.Name] = "WebTaskRole.Arn",
        [ToolsRole.Resource.Name] = "ToolsRole.Arn",
        [ToolsCluster.Resource.Name] = "Cluster",
        [ToolsSubnets.Resource.Name] = CloudFormationTemplate.ToolsSubnetIds,
        [ToolsSecurityGroups.Resource.Name] = "ToolsSecurityGroup",
        [FilesBucket.Resource.Name] = "FilesBucket",
    };
}
