using System.Text.Json;
using System.Text.Json.Nodes;
using DataWorkspace.Deployment;
using DataWorkspace.Deployment.Ecs;

namespace DataWorkspace.AppHost.Publishing;

/// <summary>
/// The CloudFormation template of the deployment, from the same tasks as the task definition files: the cluster, a
/// task definition and service per published resource (desired counts, deployment circuit breakers, Service Connect),
/// the load balancer sending the root domain and every tool host (<c>*.&lt;root domain&gt;</c>) to the public services,
/// security groups, log groups, the files bucket with its CORS rule, and the roles: the execution role (which reads
/// the secrets), the web app's task role, and the tools role that each tool session narrows to its user's prefixes.
/// The network (VPC, subnets), the certificate and the SSM secrets exist before it; it takes them as parameters.
/// </summary>
public static class CloudFormationTemplate
{
    /// <summary>The Fn::Sub variable holding the tools' subnets joined with commas (the web app's tools subnets setting).</summary>
    public const string ToolsSubnetIds = "ToolsSubnetIds";

    public static JsonObject Build(IReadOnlyList<EcsTask> tasks, EcsDeployment deployment, IReadOnlyList<string> browserOrigins)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(deployment);
        var fromStack = deployment.FromStack;
        var parameters = new JsonObject
        {
            ["VpcId"] = Parameter("AWS::EC2::VPC::Id", "The VPC the platform runs in."),
            ["PublicSubnets"] = Parameter("List<AWS::EC2::Subnet::Id>", "Subnets for the internet-facing load balancer (two or more zones)."),
            ["PrivateSubnets"] = Parameter("List<AWS::EC2::Subnet::Id>", "Private subnets for the platform's and the tools' tasks (with a route to the internet through NAT)."),
            ["CertificateArn"] = Parameter("String", "The ACM certificate for the root domain and *.<root domain>."),
            ["FilesBucketName"] = Parameter("String", "The name of the files bucket (users' home folders and team folders) to create."),
            ["ToolsVpcId"] = Parameter("AWS::EC2::VPC::Id", "The tools' own VPC, peered with VpcId: its DHCP options make dns-rewrite every tool's DNS server."),
            ["ToolsSubnets"] = Parameter("List<AWS::EC2::Subnet::Id>", "Private subnets of the tools VPC, where the tools' tasks run."),
            ["DnsAddresses"] = Parameter("CommaDelimitedList", "Two free private IPv4 addresses, one in each of the first two PrivateSubnets: dns-rewrite's load balancer, the tools VPC's DNS servers."),
        };
        var resources = new JsonObject();

        // Every parameter the tasks name that the stack does not make itself is a parameter of the stack.
        foreach (var name in tasks.SelectMany(t => StringsIn(JsonSerializer.SerializeToNode(t.Definition, EcsJson.Options)!)).SelectMany(EcsValues.ParametersIn)
                     .Where(name => !fromStack.ContainsKey(name)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            parameters[LogicalId(name)] = Parameter("String", $"The graph's parameter {name}.");

        JsonNode Text(string text) => Substituted(text, fromStack);
        
        resources["Cluster"] = Resource("AWS::ECS::Cluster", new JsonObject
        {
            ["ClusterName"] = Ref("AWS::StackName"),
            ["ServiceConnectDefaults"] = new JsonObject { ["Namespace"] = EcsPublishing.Namespace },
            ["ClusterSettings"] = new JsonArray(new JsonObject { ["Name"] = "containerInsights", ["Value"] = "enabled" }),
        });
        resources["PlatformLogGroup"] = Resource("AWS::Logs::LogGroup", new JsonObject { ["LogGroupName"] = EcsPublishing.LogGroup, ["RetentionInDays"] = 90 });
        resources["ToolsLogGroup"] = Resource("AWS::Logs::LogGroup", new JsonObject { ["LogGroupName"] = ToolTaskDefinition.LogGroup, ["RetentionInDays"] = 90 });

        var ssmSecrets = Sub($"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{EcsPublishing.SecretsPath}*");
        resources["ExecutionRole"] = Resource("AWS::IAM::Role", new JsonObject
        {
            ["AssumeRolePolicyDocument"] = Trust(new JsonObject { ["Service"] = "ecs-tasks.amazonaws.com" }),
            ["ManagedPolicyArns"] = new JsonArray(Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")),
            ["Policies"] = new JsonArray(InlinePolicy("read-secrets",
                Allow(["ssm:GetParameters"], ssmSecrets),
                Allow(["kms:Decrypt"], "*", new JsonObject { ["StringEquals"] = new JsonObject { ["kms:ViaService"] = Sub("ssm.${AWS::Region}.amazonaws.com") } }))),
        });

        JsonObject BucketArn() => Sub("arn:${AWS::Partition}:s3:::${FilesBucket}");
        var bucketObjects = (string prefix) => Sub($"arn:${{AWS::Partition}}:s3:::${{FilesBucket}}/{prefix}*");
        resources["WebTaskRole"] = Resource("AWS::IAM::Role", new JsonObject { ["AssumeRolePolicyDocument"] = Trust(new JsonObject { ["Service"] = "ecs-tasks.amazonaws.com" }) });
        resources["ToolsRole"] = Resource("AWS::IAM::Role", new JsonObject
        {
            // The web app assumes it per tool with a session policy narrowing it to the user's prefixes (ToolCredentials);
            // tool tasks without a role of their own run as it.
            ["AssumeRolePolicyDocument"] = new JsonObject
            {
                ["Version"] = "2012-10-17",
                ["Statement"] = new JsonArray(
                    new JsonObject { ["Effect"] = "Allow", ["Principal"] = new JsonObject { ["AWS"] = GetAtt("WebTaskRole", "Arn") }, ["Action"] = "sts:AssumeRole" },
                    new JsonObject { ["Effect"] = "Allow", ["Principal"] = new JsonObject { ["Service"] = "ecs-tasks.amazonaws.com" }, ["Action"] = "sts:AssumeRole" }),
            },
            ["MaxSessionDuration"] = 43200,
            ["Policies"] = new JsonArray(InlinePolicy("users-and-teams-files",
                Allow(["s3:ListBucket"], BucketArn(), new JsonObject { ["StringLike"] = new JsonObject { ["s3:prefix"] = new JsonArray("home/*", "teams/*") } }),
                Allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], new JsonArray(bucketObjects("home/"), bucketObjects("teams/"))))),
        });
        resources["WebTaskPolicy"] = Resource("AWS::IAM::Policy", new JsonObject
        {
            ["PolicyName"] = "web",
            ["Roles"] = new JsonArray(Ref("WebTaskRole")),
            ["PolicyDocument"] = PolicyDocument(
                Allow(["s3:ListBucket", "s3:GetBucketCORS", "s3:PutBucketCORS", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration"], BucketArn()),
                Allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], Sub("arn:${AWS::Partition}:s3:::${FilesBucket}/*")),
                Allow(["sts:AssumeRole"], GetAtt("ToolsRole", "Arn")),
                Allow(["ecs:RegisterTaskDefinition", "ecs:DescribeTasks", "ecs:RunTask", "ecs:StopTask", "ecs:TagResource"], "*"),
                Allow(["iam:PassRole"], new JsonArray(GetAtt("ExecutionRole", "Arn"), GetAtt("ToolsRole", "Arn")))),
        });

        resources["LoadBalancerSecurityGroup"] = Resource("AWS::EC2::SecurityGroup", new JsonObject
        {
            ["GroupDescription"] = "Data Workspace load balancer: HTTPS from anywhere (the proxy applies the IP allow list)",
            ["VpcId"] = Ref("VpcId"),
            ["SecurityGroupIngress"] = new JsonArray(Ingress("tcp", 443, 443, "0.0.0.0/0"), Ingress("tcp", 80, 80, "0.0.0.0/0")),
        });
        resources["ServiceSecurityGroup"] = Resource("AWS::EC2::SecurityGroup", new JsonObject
        {
            ["GroupDescription"] = "Data Workspace services: HTTP from the load balancer and from each other (Service Connect)",
            ["VpcId"] = Ref("VpcId"),
        });
        resources["ServiceFromLoadBalancer"] = GroupIngress("ServiceSecurityGroup", "tcp", EcsTaskExtensions.ContainerHttpPort, "LoadBalancerSecurityGroup");
        resources["ServiceFromServices"] = GroupIngress("ServiceSecurityGroup", "tcp", EcsTaskExtensions.ContainerHttpPort, "ServiceSecurityGroup");
        resources["ToolsSecurityGroup"] = Resource("AWS::EC2::SecurityGroup", new JsonObject
        {
            ["GroupDescription"] = "Data Workspace tools: reached only from the platform's services (the proxy, Prometheus)",
            ["VpcId"] = Ref("ToolsVpcId"),
        });
        resources["ToolsFromServices"] = Resource("AWS::EC2::SecurityGroupIngress", new JsonObject
        {
            ["GroupId"] = Ref("ToolsSecurityGroup"), ["IpProtocol"] = "tcp", ["FromPort"] = 1, ["ToPort"] = 65535, ["SourceSecurityGroupId"] = Ref("ServiceSecurityGroup"),
        });
        resources["DnsSecurityGroup"] = Resource("AWS::EC2::SecurityGroup", new JsonObject
        {
            ["GroupDescription"] = "Data Workspace dns-rewrite: DNS from the tools",
            ["VpcId"] = Ref("VpcId"),
        });

        resources["FilesBucket"] = Resource("AWS::S3::Bucket", new JsonObject
        {
            ["BucketName"] = Ref("FilesBucketName"),
            ["PublicAccessBlockConfiguration"] = new JsonObject { ["BlockPublicAcls"] = true, ["BlockPublicPolicy"] = true, ["IgnorePublicAcls"] = true, ["RestrictPublicBuckets"] = true },
            ["BucketEncryption"] = new JsonObject
            {
                ["ServerSideEncryptionConfiguration"] = new JsonArray(new JsonObject { ["ServerSideEncryptionByDefault"] = new JsonObject { ["SSEAlgorithm"] = "AES256" } }),
            },
            ["CorsConfiguration"] = new JsonObject
            {
                ["CorsRules"] = new JsonArray(new JsonObject
                {
                    ["Id"] = FilesBucketCors.RuleId,
                    ["AllowedOrigins"] = new JsonArray([.. browserOrigins.Select(Text)]),
                    ["AllowedMethods"] = Strings(FilesBucketCors.AllowedMethods),
                    ["AllowedHeaders"] = Strings(FilesBucketCors.AllowedHeaders),
                    ["ExposedHeaders"] = Strings(FilesBucketCors.ExposedHeaders),
                    ["MaxAge"] = FilesBucketCors.MaxAgeSeconds,
                }),
            },
            ["LifecycleConfiguration"] = new JsonObject
            {
                ["Rules"] = new JsonArray(new JsonObject
                {
                    ["Id"] = FilesBucketCors.RuleId, ["Status"] = "Enabled", ["AbortIncompleteMultipartUpload"] = new JsonObject { ["DaysAfterInitiation"] = 1 },
                }),
            },
        });

        resources["LoadBalancer"] = Resource("AWS::ElasticLoadBalancingV2::LoadBalancer", new JsonObject
        {
            ["Type"] = "application",
            ["Scheme"] = "internet-facing",
            ["Subnets"] = Ref("PublicSubnets"),
            ["SecurityGroups"] = new JsonArray(Ref("LoadBalancerSecurityGroup")),
        });
        resources["HttpsListener"] = Resource("AWS::ElasticLoadBalancingV2::Listener", new JsonObject
        {
            ["LoadBalancerArn"] = Ref("LoadBalancer"),
            ["Port"] = 443,
            ["Protocol"] = "HTTPS",
            ["Certificates"] = new JsonArray(new JsonObject { ["CertificateArn"] = Ref("CertificateArn") }),
            ["DefaultActions"] = new JsonArray(new JsonObject
            {
                ["Type"] = "fixed-response",
                ["FixedResponseConfig"] = new JsonObject { ["StatusCode"] = "404", ["ContentType"] = "text/plain", ["MessageBody"] = "Not a Data Workspace address" },
            }),
        });
        resources["HttpListener"] = Resource("AWS::ElasticLoadBalancingV2::Listener", new JsonObject
        {
            ["LoadBalancerArn"] = Ref("LoadBalancer"),
            ["Port"] = 80,
            ["Protocol"] = "HTTP",
            ["DefaultActions"] = new JsonArray(new JsonObject
            {
                ["Type"] = "redirect",
                ["RedirectConfig"] = new JsonObject { ["Protocol"] = "HTTPS", ["Port"] = "443", ["StatusCode"] = "HTTP_301" },
            }),
        });

        // A service's own host (healthcheck.<root domain>) is tried before the proxy's wildcard, which would match it too.
        var hostPriority = 1;
        var priority = 100;
        foreach (var task in tasks)
        {
            var id = LogicalId(task.Name);
            resources[id + "TaskDefinition"] = Resource("AWS::ECS::TaskDefinition", TaskDefinition(task.Definition, fromStack));
            if (!task.Settings.IsService) continue;

            var service = new JsonObject
            {
                ["Cluster"] = Ref("Cluster"),
                ["ServiceName"] = task.Name,
                ["LaunchType"] = "FARGATE",
                ["TaskDefinition"] = Ref(id + "TaskDefinition"),
                ["DesiredCount"] = task.Settings.DesiredCount,
                ["DeploymentConfiguration"] = new JsonObject
                {
                    ["DeploymentCircuitBreaker"] = new JsonObject { ["Enable"] = true, ["Rollback"] = true },
                    ["MinimumHealthyPercent"] = 100,
                    ["MaximumPercent"] = 200,
                },
                ["NetworkConfiguration"] = new JsonObject
                {
                    ["AwsvpcConfiguration"] = new JsonObject
                    {
                        ["AssignPublicIp"] = "DISABLED",
                        ["Subnets"] = Ref("PrivateSubnets"),
                        ["SecurityGroups"] = new JsonArray(Ref(task.Settings.HttpPort is null ? "DnsSecurityGroup" : "ServiceSecurityGroup")),
                    },
                },
            };
            if (task.Settings.HttpPort is { } port)
                service["ServiceConnectConfiguration"] = new JsonObject
                {
                    ["Enabled"] = true,
                    ["Namespace"] = EcsPublishing.Namespace,
                    ["Services"] = new JsonArray(new JsonObject
                    {
                        ["PortName"] = "http",
                        ["DiscoveryName"] = task.Name,
                        ["ClientAliases"] = new JsonArray(new JsonObject { ["Port"] = port, ["DnsName"] = EcsPublishing.ServiceConnectName(task.Name) }),
                    }),
                };

            var dependsOn = new JsonArray("PlatformLogGroup");
            if (task.Settings is { Public: true, HttpPort: { } publicPort })
            {
                resources[id + "TargetGroup"] = TargetGroup(publicPort, task.Settings.HealthPath);
                resources[id + "RootHostRule"] = ListenerRule(id, priority++, Text(EcsValues.Placeholder(deployment.RootDomain.Resource.Name)));
                resources[id + "ToolHostsRule"] = ListenerRule(id, priority++, Text("*." + EcsValues.Placeholder(deployment.RootDomain.Resource.Name)));
                service["LoadBalancers"] = new JsonArray(new JsonObject { ["ContainerName"] = task.Name, ["ContainerPort"] = publicPort, ["TargetGroupArn"] = Ref(id + "TargetGroup") });
                service["HealthCheckGracePeriodSeconds"] = 120;
                dependsOn.Add(id + "RootHostRule");
                dependsOn.Add(id + "ToolHostsRule");
            }

            if (task.Settings is { LoadBalancerHost: { } host, HttpPort: { } hostPort })
            {
                resources[id + "TargetGroup"] = TargetGroup(hostPort, task.Settings.HealthPath);
                resources[id + "HostRule"] = ListenerRule(id, hostPriority++, Text(host + "." + EcsValues.Placeholder(deployment.RootDomain.Resource.Name)));
                service["LoadBalancers"] = new JsonArray(new JsonObject { ["ContainerName"] = task.Name, ["ContainerPort"] = hostPort, ["TargetGroupArn"] = Ref(id + "TargetGroup") });
                service["HealthCheckGracePeriodSeconds"] = 60;
                dependsOn.Add(id + "HostRule");
            }

            if (task.Settings is { ToolsDnsPort: { } dnsPort, HealthPort: { } dnsHealthPort })
            {
                AddToolsDns(resources, dnsPort, dnsHealthPort, task.Settings.HealthPath);
                service["LoadBalancers"] = new JsonArray(new JsonObject { ["ContainerName"] = task.Name, ["ContainerPort"] = dnsPort, ["TargetGroupArn"] = Ref("ToolsDnsTargetGroup") });
                service["HealthCheckGracePeriodSeconds"] = 60;
                dependsOn.Add("ToolsDnsListener");
            }

            var serviceResource = Resource("AWS::ECS::Service", service);
            serviceResource["DependsOn"] = dependsOn;
            resources[id + "Service"] = serviceResource;
        }

        return new JsonObject
        {
            ["AWSTemplateFormatVersion"] = "2010-09-09",
            ["Description"] = "Data Workspace on ECS Fargate, published from the Aspire AppHost's graph",
            ["Parameters"] = parameters,
            ["Resources"] = resources,
            ["Outputs"] = new JsonObject
            {
                ["LoadBalancerDnsName"] = Output(GetAtt("LoadBalancer", "DNSName"), "Point the root domain and *.<root domain> here"),
                ["ClusterName"] = Output(Ref("Cluster"), "The cluster of the services and the tools (tools-cluster)"),
                ["ExecutionRoleArn"] = Output(GetAtt("ExecutionRole", "Arn"), "execution-role-arn"),
                ["WebTaskRoleArn"] = Output(GetAtt("WebTaskRole", "Arn"), "web-task-role-arn"),
                ["ToolsRoleArn"] = Output(GetAtt("ToolsRole", "Arn"), "tools-role-arn"),
                ["ToolsSecurityGroupId"] = Output(Ref("ToolsSecurityGroup"), "tools-security-groups"),
                ["ServiceSecurityGroupId"] = Output(Ref("ServiceSecurityGroup"), "For running the one-off tasks (migrations)"),
            },
        };
    }

    private static IEnumerable<string> StringsIn(JsonNode node) => node switch
    {
        JsonObject o => o.SelectMany(p => p.Value is null ? [] : StringsIn(p.Value)),
        JsonArray a => a.SelectMany(item => item is null ? [] : StringsIn(item)),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
        _ => [],
    };

    /// <summary>"proxy-migrations" → "ProxyMigrations".</summary>
    public static string LogicalId(string name) =>
        string.Concat(name.Split(['-', '_', '.'], StringSplitOptions.RemoveEmptyEntries).Select(part => char.ToUpperInvariant(part[0]) + part[1..]));

    /// <summary>A task definition document in CloudFormation's spelling (PascalCase), parameters as Fn::Sub variables.</summary>
    private static JsonObject TaskDefinition(RegisterTaskDefinitionRequest definition, IReadOnlyDictionary<string, string> fromStack) =>
        (JsonObject)Pascal(JsonSerializer.SerializeToNode(definition, EcsJson.Options)!, fromStack, keepKeys: false);

    private static JsonNode Pascal(JsonNode node, IReadOnlyDictionary<string, string> fromStack, bool keepKeys) => node switch
    {
        // A log driver's options keep their names (awslogs-group, ...).
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(
            keepKeys ? p.Key : char.ToUpperInvariant(p.Key[0]) + p.Key[1..],
            p.Value is null ? null : Pascal(p.Value, fromStack, keepKeys: p.Key == "options")))),
        JsonArray a => new JsonArray([.. a.Select(item => item is null ? null : Pascal(item, fromStack, keepKeys: false))]),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Substituted(v.GetValue<string>(), fromStack),
        _ => node.DeepClone(),
    };

    /// <summary>Text naming parameters becomes Fn::Sub: a stack parameter, or what the stack makes itself.</summary>
    private static JsonNode Substituted(string text, IReadOnlyDictionary<string, string> fromStack)
    {
        var names = EcsValues.ParametersIn(text).ToList();
        if (names.Count == 0) return JsonValue.Create(text);
        var template = EcsValues.Fill(text, name => "${" + (fromStack.TryGetValue(name, out var made) ? made : LogicalId(name)) + "}", literal => literal.Replace("${", "${!", StringComparison.Ordinal));
        return template.Contains("${" + ToolsSubnetIds + "}", StringComparison.Ordinal)
            ? new JsonObject { ["Fn::Sub"] = new JsonArray(template, new JsonObject { [ToolsSubnetIds] = new JsonObject { ["Fn::Join"] = new JsonArray(",", Ref("ToolsSubnets")) } }) }
            : new JsonObject { ["Fn::Sub"] = template };
    }

    /// <summary>
    /// The tools' DNS: on Fargate a task cannot name its own DNS servers, so the tools VPC's DHCP options name two fixed
    /// addresses of an internal network load balancer, which forwards UDP and TCP 53 to the DNS service's port. UDP keeps
    /// the tools' addresses as the source, so the service's group allows the tools' group as well as the load balancer's.
    /// dns-rewrite asks the VPC's resolver itself, which security groups do not filter.
    /// </summary>
    private static void AddToolsDns(JsonObject resources, int port, int healthPort, string? healthPath)
    {
        resources["ToolsDnsSecurityGroup"] = Resource("AWS::EC2::SecurityGroup", new JsonObject
        {
            ["GroupDescription"] = "Data Workspace tools' DNS load balancer: DNS from the tools",
            ["VpcId"] = Ref("VpcId"),
            ["SecurityGroupIngress"] = new JsonArray(
                new JsonObject { ["IpProtocol"] = "udp", ["FromPort"] = 53, ["ToPort"] = 53, ["SourceSecurityGroupId"] = Ref("ToolsSecurityGroup") },
                new JsonObject { ["IpProtocol"] = "tcp", ["FromPort"] = 53, ["ToPort"] = 53, ["SourceSecurityGroupId"] = Ref("ToolsSecurityGroup") }),
        });
        resources["DnsFromLoadBalancerUdp"] = GroupIngress("DnsSecurityGroup", "udp", port, "ToolsDnsSecurityGroup");
        resources["DnsFromLoadBalancerTcp"] = GroupIngress("DnsSecurityGroup", "tcp", port, "ToolsDnsSecurityGroup");
        resources["DnsHealthFromLoadBalancer"] = GroupIngress("DnsSecurityGroup", "tcp", healthPort, "ToolsDnsSecurityGroup");
        resources["DnsFromToolsUdp"] = GroupIngress("DnsSecurityGroup", "udp", port, "ToolsSecurityGroup");
        resources["DnsFromToolsTcp"] = GroupIngress("DnsSecurityGroup", "tcp", port, "ToolsSecurityGroup");

        JsonObject Mapping(int index) => new()
        {
            ["SubnetId"] = new JsonObject { ["Fn::Select"] = new JsonArray(index, Ref("PrivateSubnets")) },
            ["PrivateIPv4Address"] = new JsonObject { ["Fn::Select"] = new JsonArray(index, Ref("DnsAddresses")) },
        };
        resources["ToolsDnsLoadBalancer"] = Resource("AWS::ElasticLoadBalancingV2::LoadBalancer", new JsonObject
        {
            ["Type"] = "network",
            ["Scheme"] = "internal",
            ["SubnetMappings"] = new JsonArray(Mapping(0), Mapping(1)),
            ["SecurityGroups"] = new JsonArray(Ref("ToolsDnsSecurityGroup")),
        });
        resources["ToolsDnsTargetGroup"] = Resource("AWS::ElasticLoadBalancingV2::TargetGroup", new JsonObject
        {
            ["TargetType"] = "ip",
            ["Protocol"] = "TCP_UDP",
            ["Port"] = port,
            ["VpcId"] = Ref("VpcId"),
            ["HealthCheckProtocol"] = "HTTP",
            ["HealthCheckPort"] = healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["HealthCheckPath"] = healthPath,
            ["TargetGroupAttributes"] = new JsonArray(new JsonObject { ["Key"] = "deregistration_delay.timeout_seconds", ["Value"] = "30" }),
        });
        resources["ToolsDnsListener"] = Resource("AWS::ElasticLoadBalancingV2::Listener", new JsonObject
        {
            ["LoadBalancerArn"] = Ref("ToolsDnsLoadBalancer"),
            ["Port"] = 53,
            ["Protocol"] = "TCP_UDP",
            ["DefaultActions"] = new JsonArray(new JsonObject { ["Type"] = "forward", ["TargetGroupArn"] = Ref("ToolsDnsTargetGroup") }),
        });
        resources["ToolsDhcpOptions"] = Resource("AWS::EC2::DHCPOptions", new JsonObject { ["DomainNameServers"] = Ref("DnsAddresses") });
        resources["ToolsDhcpOptionsAssociation"] = Resource("AWS::EC2::VPCDHCPOptionsAssociation", new JsonObject
        {
            ["VpcId"] = Ref("ToolsVpcId"), ["DhcpOptionsId"] = Ref("ToolsDhcpOptions"),
        });
    }

    private static JsonObject TargetGroup(int port, string? healthPath) => Resource("AWS::ElasticLoadBalancingV2::TargetGroup", new JsonObject
    {
        ["TargetType"] = "ip",
        ["Protocol"] = "HTTP",
        ["Port"] = port,
        ["VpcId"] = Ref("VpcId"),
        ["HealthCheckPath"] = healthPath,
        ["Matcher"] = new JsonObject { ["HttpCode"] = "200" },
        ["TargetGroupAttributes"] = new JsonArray(new JsonObject { ["Key"] = "deregistration_delay.timeout_seconds", ["Value"] = "30" }),
    });

    private static JsonObject ListenerRule(string service, int priority, JsonNode host) => Resource("AWS::ElasticLoadBalancingV2::ListenerRule", new JsonObject
    {
        ["ListenerArn"] = Ref("HttpsListener"),
        ["Priority"] = priority,
        ["Conditions"] = new JsonArray(new JsonObject { ["Field"] = "host-header", ["HostHeaderConfig"] = new JsonObject { ["Values"] = new JsonArray(host) } }),
        ["Actions"] = new JsonArray(new JsonObject { ["Type"] = "forward", ["TargetGroupArn"] = Ref(service + "TargetGroup") }),
    });

    private static JsonObject Parameter(string type, string description) => new() { ["Type"] = type, ["Description"] = description };

    private static JsonObject Resource(string type, JsonObject properties) => new() { ["Type"] = type, ["Properties"] = properties };

    private static JsonObject Output(JsonNode value, string description) => new() { ["Value"] = value, ["Description"] = description };

    private static JsonObject Ref(string name) => new() { ["Ref"] = name };

    private static JsonObject GetAtt(string resource, string attribute) => new() { ["Fn::GetAtt"] = new JsonArray(resource, attribute) };

    private static JsonObject Sub(string template) => new() { ["Fn::Sub"] = template };

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    private static JsonObject Ingress(string protocol, int from, int to, string cidr) => new()
    {
        ["IpProtocol"] = protocol, ["FromPort"] = from, ["ToPort"] = to, ["CidrIp"] = cidr,
    };

    private static JsonObject GroupIngress(string group, string protocol, int port, string source) => Resource("AWS::EC2::SecurityGroupIngress", new JsonObject
    {
        ["GroupId"] = Ref(group), ["IpProtocol"] = protocol, ["FromPort"] = port, ["ToPort"] = port, ["SourceSecurityGroupId"] = Ref(source),
    });

    private static JsonObject Trust(JsonObject principal) => new()
    {
        ["Version"] = "2012-10-17",
        ["Statement"] = new JsonArray(new JsonObject { ["Effect"] = "Allow", ["Principal"] = principal, ["Action"] = "sts:AssumeRole" }),
    };

    private static JsonObject Allow(IEnumerable<string> actions, JsonNode resource, JsonObject? condition = null)
    {
        var statement = new JsonObject { ["Effect"] = "Allow", ["Action"] = Strings(actions), ["Resource"] = resource };
        if (condition is not null) statement["Condition"] = condition;
        return statement;
    }

    private static JsonObject PolicyDocument(params JsonObject[] statements) => new() { ["Version"] = "2012-10-17", ["Statement"] = new JsonArray(statements) };

    private static JsonObject InlinePolicy(string name, params JsonObject[] statements) => new() { ["PolicyName"] = name, ["PolicyDocument"] = PolicyDocument(statements) };
}
