using DataWorkspace.AppHost.Infrastructure;
using DataWorkspace.AppHost.Publishing;
using DataWorkspace.Deployment.Ecs;
using Microsoft.Extensions.Logging;

var builder = DistributedApplication.CreateBuilder(args);
var publishing = builder.ExecutionContext.IsPublishMode;
var infrastructure = InfrastructureModeResolver.Resolve(builder.Configuration, publishing);
if (infrastructure == InfrastructureMode.Local && LocalPrerequisites.Missing() is { } missing)
{
    Console.Error.WriteLine(missing);
    return 1;
}
builder.ReportFailedResources();

var rootDomain = builder.Configuration["Portal:RootDomain"] ?? "dataworkspace.localhost";
var portalPort = int.Parse(builder.Configuration["Portal:Port"] ?? "8000", System.Globalization.CultureInfo.InvariantCulture);
var portalUrl = $"http://{rootDomain}:{portalPort}";

// Secrets: generated once and kept with the local data when running; inputs of the deployment when publishing.
var state = publishing ? null : LocalState.From(builder.Configuration);
IResourceBuilder<ParameterResource> Secret(string name) => state is null
    ? builder.AddParameter(name, secret: true)
    : builder.AddParameter(name, state.Secret(name), secret: true);

var identitySigningKey = Secret("identity-signing-key");
var oidcClientSecret = Secret("oidc-client-secret");

// The catalogue database (the portal's own) and the datasets database (the tables datasets point at): deployed, the
// organisation's PostgreSQL (RDS or Aurora), given as connection strings; locally, a postgres of our own.
IResourceBuilder<IResource>? postgres = null;
IResourceBuilder<IResourceWithConnectionString> catalogue, datasets;
if (publishing)
{
    (catalogue, datasets) = (builder.AddConnectionString("catalogue"), builder.AddConnectionString("datasets"));
}
else if (infrastructure == InfrastructureMode.Containers)
{
    var server = builder.AddPostgres("postgres", password: Secret("postgres-password")).WithDataVolume("dataworkspace-postgres");
    (postgres, catalogue, datasets) = (server, server.AddDatabase("catalogue"), server.AddDatabase("datasets"));
}
else
{
    var server = builder.AddLocalPostgres("postgres", state!.PostgresData, Secret("postgres-password"));
    (postgres, catalogue, datasets) = (server, server.AddDatabase("catalogue"), server.AddDatabase("datasets"));
}

// Deployed, the portal's domain is the deployment's; locally, the one above.
var rootDomainValue = publishing ? builder.AddParameter("root-domain") : null;

var migrations = builder.AddProject<Projects.DataWorkspace_Web>("migrations", options =>
    {
        options.ExcludeLaunchProfile = true;
        options.ExcludeKestrelEndpoints = true;
    })
    .WithArgs(publishing ? ["migrate"] : ["migrate", "--demo-data"])
    .WithReference(catalogue)
    .WithReference(datasets);

// A local database made by migrations from before a squash cannot be upgraded: the step says how to start afresh.
if (state is not null)
    migrations.WithEnvironment("Migrations__StartAfresh", infrastructure == InfrastructureMode.Containers
        ? "remove the container volume dataworkspace-postgres (docker volume rm dataworkspace-postgres)"
        : $"delete the folder {state.PostgresData} (PostgreSQL's data; the rest of the data directory can stay)");

// The proxy's own schema (its sessions), beside the web app's tables and migrated at the same time.
var proxyMigrations = builder.AddProject<Projects.DataWorkspace_Proxy>("proxy-migrations", options =>
    {
        options.ExcludeLaunchProfile = true;
        options.ExcludeKestrelEndpoints = true;
    })
    .WithArgs("migrate")
    .WithReference(catalogue);

var web = builder.AddProject<Projects.DataWorkspace_Web>("web")
    .WithReference(catalogue)
    .WithReference(datasets)
    .WithEnvironment("Identity__SigningKey", identitySigningKey)
    // Prometheus's service discovery of running tools (GET /api/v1/application) with basic auth.
    .WithEnvironment("Prometheus__Username", "prometheus")
    .WithEnvironment("Prometheus__Password", Secret("prometheus-password"))
    .WaitForCompletion(migrations)
    .WithPromptHttpHealthCheck("/health");

if (postgres is not null)
{
    migrations.WaitFor(postgres);
    proxyMigrations.WaitFor(postgres);
    web.WaitFor(postgres);
}

// Links in emails are written outside any request, so the web app is told the portal's public address. The "Your
// files" page sends uploads straight to the files bucket, whose CORS rules are set for this origin.
if (rootDomainValue is null)
    web.WithEnvironment("Portal__PublicUrl", portalUrl).WithEnvironment("Storage__BrowserOrigins__0", portalUrl);
else
    web.WithEnvironment("Portal__PublicUrl", ReferenceExpression.Create($"https://{rootDomainValue}"))
        .WithEnvironment("Storage__BrowserOrigins__0", ReferenceExpression.Create($"https://{rootDomainValue}"));

if (state is not null)
{
    // Tools run as local processes here. Besides the seeded templates (Jupyter Notebook runs where Debian's
    // jupyter-notebook is installed), the built-in sample app runs anywhere: the sidecars executable's sample-app command,
    // from the build the AppHost itself runs from (bin/<configuration>/net10.0).
    var sidecarsBuild = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
    var sidecars = Path.Combine(Path.GetDirectoryName(new Projects.DataWorkspace_Sidecars().ProjectPath)!, "bin", sidecarsBuild, "net10.0", "dataworkspace-sidecar.dll");
    // The dashboard's commands on the web resource (run the permission sync, cull idle tools, reload the demo data),
    // through the web app's operations API with a key of their own.
    web.WithOperationCommands(Secret("operations-key"));

    web.WithEnvironment("Tools__LocalWorkDirectory", Path.Combine(state.Root, "tools"))
        // Each local tool's sidecars (its metrics) run from the same build.
        .WithEnvironment("Tools__LocalSidecars", sidecars);

    // dns-rewrite: the tools' DNS server, answering only the allow-listed names (DnsRewrite in appsettings.json).
    // Nothing waits for it: the portal works without it.
    if (builder.AddLocalDnsRewrite("dns-rewrite", sidecars, out var skipped) is null)
        Console.Error.WriteLine($"dns-rewrite is not started: {skipped}.");
    void SampleApp(int index, string name, string basename, string description, string kind = "Tool", string? catalogueSlug = null, string wrap = "None")
    {
        var prefix = $"Tools__Templates__{index}__";
        web.WithEnvironment(prefix + "Name", name)
            .WithEnvironment(prefix + "HostBasename", basename)
            .WithEnvironment(prefix + "Kind", kind)
            .WithEnvironment(prefix + "Description", description)
            .WithEnvironment(prefix + "Command__0", "dotnet")
            .WithEnvironment(prefix + "Command__1", sidecars)
            .WithEnvironment(prefix + "Command__2", "sample-app")
            .WithEnvironment(prefix + "DefaultSize", "Small")
            .WithEnvironment(prefix + "Wrap", wrap);
        if (catalogueSlug is not null) web.WithEnvironment(prefix + "CatalogueSlug", catalogueSlug);
    }

    SampleApp(0, "Sample app", "sample", "A small web app that shows who you are signed in as; echoes requests and websockets.");
    // The demo catalogue's two visualisations, played by the sample app: one open to everyone, one to trade.example only.
    SampleApp(1, "Market access dashboard", "market-access", "Open trade barriers by market and sector.", "Visualisation", "market-access-dashboard", "FullHeightIframe");
    SampleApp(2, "Free trade agreement utilisation", "fta-utilisation", "Use of preferential tariffs by partner country.", "Visualisation", "fta-utilisation");
}

var proxy = builder.AddProject<Projects.DataWorkspace_Proxy>("proxy")
    .WithEndpoint("http", endpoint =>
    {
        endpoint.Port = portalPort;
        endpoint.IsProxied = false;
    })
    .WithReference(catalogue)
    .WithEnvironment("Identity__SigningKey", identitySigningKey)
    // The proxy works out the client address itself, from a configured number of trusted hops.
    .WithEnvironment("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "false")
    // A 64 MB first generation: the proxy allocates a little for every request it forwards, and a smaller budget
    // collects so often that the collections cost more than the memory (figures in bench/README).
    .WithEnvironment("DOTNET_GCgen0size", "0x4000000")
    // The proxy asks the web app only when a request comes, so it starts beside it rather than after it.
    .WithEnvironment("Proxy__WebUrl", web.GetEndpoint("http"))
    .WithEnvironment("Oidc__ClientSecret", oidcClientSecret)
    .WaitForCompletion(proxyMigrations)
    .WithPromptHttpHealthCheck("/health")
    .WithUrls(context =>
    {
        context.Urls.Clear();
        context.Urls.Add(new ResourceUrlAnnotation { Url = portalUrl + "/", DisplayText = "Data Workspace portal" });
    });

if (publishing)
{
    // Deployed: Fargate tasks on real AWS (credentials from the task role) and the organisation's own single sign-on,
    // behind a load balancer that terminates TLS. The images are <image-registry>/<repository>:<image-tag>.
    var deployment = new EcsDeployment
    {
        ImageRegistry = builder.AddParameter("image-registry"),
        ImageTag = builder.AddParameter("image-tag"),
        Region = builder.AddParameter("aws-region"),
        RootDomain = rootDomainValue!,
        FilesBucket = builder.AddParameter("files-bucket"),
        ExecutionRole = builder.AddParameter("execution-role-arn"),
        WebTaskRole = builder.AddParameter("web-task-role-arn"),
        ToolsRole = builder.AddParameter("tools-role-arn"),
        ToolsCluster = builder.AddParameter("tools-cluster"),
        ToolsSubnets = builder.AddParameter("tools-subnets"),
        ToolsSecurityGroups = builder.AddParameter("tools-security-groups"),
    };
    builder.AddEcsPublishing(deployment);

    web.WithEnvironment("Aws__Region", deployment.Region)
        // Users' and teams' files, and the role each tool assumes (narrowed to the user's own prefixes) to reach them.
        .WithEnvironment("Storage__Bucket", deployment.FilesBucket)
        .WithEnvironment("Storage__ToolRoleArn", deployment.ToolsRole)
        // The files page spreads its uploads over two host names of the bucket: a browser keeps six connections to each.
        .WithEnvironment("Storage__BrowserEndpoints__0", ReferenceExpression.Create($"https://s3.{deployment.Region}.amazonaws.com"))
        .WithEnvironment("Storage__BrowserEndpoints__1", ReferenceExpression.Create($"https://s3.dualstack.{deployment.Region}.amazonaws.com"))
        // Users' tools run as Fargate tasks in the tools cluster's private subnets (comma-separated ids).
        .WithEnvironment("Tools__Launcher", "Ecs")
        .WithEnvironment("Tools__Ecs__Region", deployment.Region)
        .WithEnvironment("Tools__Ecs__Cluster", deployment.ToolsCluster)
        .WithEnvironment("Tools__Ecs__Subnets__0", deployment.ToolsSubnets)
        .WithEnvironment("Tools__Ecs__SecurityGroups__0", deployment.ToolsSecurityGroups)
        .WithEnvironment("Tools__Ecs__ExecutionRoleArn", deployment.ExecutionRole)
        .WithEnvironment("Tools__Ecs__SidecarImage", deployment.Image(EcsDeployment.SidecarsRepository))
        // An administrator from the first sign-in (Admin:Emails), so the deployed portal can be run at once.
        .WithEnvironment("Admin__Emails__0", builder.AddParameter("admin-email"))
        .PublishAsEcsService(image: "dataworkspace-web", cpu: 1024, memory: 2048, desiredCount: 2, healthPath: "/health", taskRole: deployment.WebTaskRole);
    migrations.PublishAsEcsOneOffTask(image: "dataworkspace-web", cpu: 512, memory: 1024);
    proxyMigrations.PublishAsEcsOneOffTask(image: "dataworkspace-proxy", cpu: 256, memory: 512);
    proxy.WithEnvironment("Proxy__RootDomain", deployment.RootDomain)
        .WithEnvironment("Oidc__Authority", builder.AddParameter("oidc-authority"))
        .WithEnvironment("Oidc__ClientId", builder.AddParameter("oidc-client-id"))
        .WithEnvironment("Proxy__PublicScheme", "https")
        .WithEnvironment("Proxy__TrustedHops", "1")
        // Who reaches tools, the Data Explorer and files: CIDR ranges, comma-separated (e.g. the office and VPN ranges).
        .WithEnvironment("Proxy__IpAllowList__0", builder.AddParameter("ip-allow-list"))
        // The files page's uploads and previews go to the bucket's virtual-hosted endpoints (regional and dual-stack:
        // two host names, twice the browser's connections), which the portal's CSP allows.
        .WithEnvironment("Proxy__FilesOrigin", ReferenceExpression.Create($"https://{deployment.FilesBucket}.s3.{deployment.Region}.amazonaws.com"))
        .WithEnvironment("Proxy__FilesOrigins__0", ReferenceExpression.Create($"https://{deployment.FilesBucket}.s3.dualstack.{deployment.Region}.amazonaws.com"))
        .PublishAsEcsService(image: "dataworkspace-proxy", cpu: 1024, memory: 2048, desiredCount: 2, healthPath: "/healthcheck", isPublic: true);

    // healthcheck: what an external uptime monitor calls, at https://healthcheck.<root domain>/check (the portal's
    // health through the web app's /health) and /check_alb (the load balancer's own check of it).
    builder.AddProject<Projects.DataWorkspace_Sidecars>("healthcheck", options =>
        {
            options.ExcludeLaunchProfile = true;
            options.ExcludeKestrelEndpoints = true;
        })
        .WithArgs("healthcheck-server")
        .WithEnvironment("HEALTHCHECK_LISTEN", "0.0.0.0:8080")
        .WithEnvironment("HEALTHCHECK_CHECK_URL", ReferenceExpression.Create($"{web.GetEndpoint("http")}/health"))
        .PublishAsEcsSidecarWebService(image: EcsDeployment.SidecarsRepository, cpu: 256, memory: 512, desiredCount: 2, healthPath: "/check_alb", loadBalancerHost: "healthcheck");

    // dns-rewrite: the tools' DNS server, answering only the allow-listed names (DnsRewrite in appsettings.json) by
    // asking the VPC's resolver (dns-upstream, e.g. 10.0.0.2). The tools reach it on port 53 of an internal network
    // load balancer at fixed addresses (their VPC's DNS servers), which forwards to 5353: a port its non-root user may take.
    builder.AddProject<Projects.DataWorkspace_Sidecars>("dns-rewrite", options =>
        {
            options.ExcludeLaunchProfile = true;
            options.ExcludeKestrelEndpoints = true;
        })
        .WithArgs("dns-rewrite")
        .WithEnvironment("DNS_REWRITE_LISTEN", "0.0.0.0:5353")
        .WithEnvironment("DNS_REWRITE_UPSTREAM", builder.AddParameter("dns-upstream"))
        .WithEnvironment("DNS_REWRITE_RULES", LocalDnsRewrite.RulesJson(builder.Configuration))
        .WithEnvironment("DNS_REWRITE_HEALTH_NAME", LocalDnsRewrite.HealthName(builder.Configuration))
        .WithEnvironment("DNS_REWRITE_HEALTH_PORT", "8053")
        .PublishAsEcsSidecarService(image: EcsDeployment.SidecarsRepository, cpu: 256, memory: 512, desiredCount: 2, healthPort: 8053, healthPath: "/health",
            ports: [new PortMapping(5353, "udp"), new PortMapping(5353, "tcp"), new PortMapping(8053)], toolsDnsPort: 5353);
}
else
{
    // aws: S3, STS and ECS from LocalStack or moto; identity: the development OpenID Connect provider with the demo users.
    var aws = builder.AddAwsEmulator("aws", infrastructure);
    // The emulator under a second name too: Chromium keeps six connections to each host name, so the files page's
    // uploads, spread over both, get twelve.
    // Aspire gives the emulator's address as localhost; the second name is its IP address.
    var awsByAddress = ReferenceExpression.Create($"http://127.0.0.1:{aws.GetEndpoint("http").Property(EndpointProperty.Port)}");
    web.WithAwsEmulator(aws)
        .WithEnvironment("Storage__Bucket", "dataworkspace-local")
        .WithEnvironment("Storage__BrowserEndpoints__0", aws.GetEndpoint("http"))
        .WithEnvironment("Storage__BrowserEndpoints__1", awsByAddress);

    // A demo machine API client, so calls from another system can be tried locally: sign with Hawk as id "demo" and
    // the key in <data directory>/secrets/machine-api-demo-key. It reads what a partner.example user could.
    web.WithEnvironment("MachineApi__Clients__demo__Key", Secret("machine-api-demo-key"))
        .WithEnvironment("MachineApi__Clients__demo__Email", "demo-robot@partner.example");

    var identity = builder.AddProject<Projects.DataWorkspace_DevIdentity>("identity")
        .WithEnvironment("DevIdentity__Clients__0__ClientId", "dataworkspace-proxy")
        .WithEnvironment("DevIdentity__Clients__0__ClientSecret", oidcClientSecret)
        .WithEnvironment("DevIdentity__Clients__0__DisplayName", "Data Workspace")
        .WithEnvironment("DevIdentity__Clients__0__RedirectUris__0", $"{portalUrl}/auth/callback")
        .WithEnvironment("DevIdentity__Clients__0__PostLogoutRedirectUris__0", $"{portalUrl}/auth/signed-out")
        // Its keys (so the proxy's refresh tokens outlive a restart) and which demo users are disabled or removed.
        .WithEnvironment("DevIdentity__StateDirectory", Path.Combine(state!.Root, "identity"))
        .WithPromptHttpHealthCheck("/health");

    proxy.WithEnvironment("Proxy__RootDomain", rootDomain)
        .WithEnvironment("Oidc__ClientId", "dataworkspace-proxy")
        .WithEnvironment("Oidc__Authority", identity.GetEndpoint("http"))
        .WithEnvironment("Oidc__RequireHttpsMetadata", "false")
        .WithEnvironment("Proxy__PublicScheme", "http")
        .WithEnvironment("Proxy__TrustedHops", "0")
        // Locally, tools, the Data Explorer and files are reachable from this machine only.
        .WithEnvironment("Proxy__IpGroups__this-machine__0", "127.0.0.0/8")
        .WithEnvironment("Proxy__IpGroups__this-machine__1", "::1/128")
        .WithEnvironment("Proxy__IpAllowList__0", "this-machine")
        // The files page's presigned uploads and previews go to the emulator itself.
        .WithEnvironment("Proxy__FilesOrigin", aws.GetEndpoint("http"))
        .WithEnvironment("Proxy__FilesOrigins__0", awsByAddress)
        .WaitFor(identity);

    builder.AnnounceWhenReady([proxy.Resource, web.Resource, identity.Resource], logger => logger.LogInformation(
        "Data Workspace is ready at {PortalUrl}/ (open it in Chromium or Chrome and pick a demo user to sign in). " +
        "Infrastructure: {Mode}; data kept in {DataDirectory}", portalUrl, infrastructure, state!.Root));
}

builder.Build().Run();
return 0;
