using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace DataWorkspace.TestSupport;

/// <summary>The whole AppHost graph in Local mode: PostgreSQL and moto as executables, every project as a process.</summary>
public sealed class RunningPlatform : IAsyncDisposable
{
    private RunningPlatform(DistributedApplication app, Uri portalUrl, string dataDirectory)
    {
        App = app;
        PortalUrl = portalUrl;
        DataDirectory = dataDirectory;
    }

    public DistributedApplication App { get; }
    public Uri PortalUrl { get; }
    public string DataDirectory { get; }

    /// <summary>Starts the graph of <typeparamref name="TAppHost"/> (the AppHost's Projects entry) and waits until the proxy is healthy.</summary>
    /// <param name="testSettings">
    /// Tests get a movable clock and one-second expiry and outbox intervals; a benchmark measures the settings a
    /// deployment runs with.
    /// </param>
    /// <param name="addResources">Adds resources to the graph (a second web app and proxy), before the settings every project gets.</param>
    public static async Task<RunningPlatform> StartAsync<TAppHost>(string dataDirectory, int portalPort, CancellationToken cancellationToken, bool testSettings = true,
        Action<IDistributedApplicationTestingBuilder>? addResources = null)
        where TAppHost : class
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<TAppHost>(
            ["Infrastructure=Local", $"DataDirectory={dataDirectory}", $"Portal:Port={portalPort}"],
            (options, _) => options.DisableDashboard = true,
            cancellationToken);
        addResources?.Invoke(builder);

        // The graph's own logs go to the dashboard in a real run; tests show only its warnings.
        builder.Services.AddLogging(logging => logging
            .AddFilter("DataWorkspace.AppHost.Resources", LogLevel.Warning)
            .AddFilter("Aspire.Hosting", LogLevel.Warning)
            .AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None));

        // No collector listens in tests; without this each service waits to flush telemetry when stopped.
        foreach (var project in builder.Resources.OfType<ProjectResource>())
            builder.CreateResourceBuilder(project).WithEnvironment(context => context.EnvironmentVariables.Remove("OTEL_EXPORTER_OTLP_ENDPOINT"));

        // The identity provider keeps its address across restarts on the same data directory, as a real one does: the
        // tokens it gave (the sessions' refresh tokens) name it as their issuer.
        builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "identity"))
            .WithEndpoint("http", endpoint => (endpoint.Port, endpoint.IsProxied) = (IdentityPort(dataDirectory), false));

        // Tests move the web app's business clock through this file (see FileOffsetTimeProvider), and do not wait
        // minutes for the expiry sweep or the outbox.
        var web = builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "web");
        if (testSettings)
        {
            // The web app listens itself, on a port kept across a restart: stopped, nothing answers there, as in a
            // deployment (the orchestrator's own proxy in front would hold each request open instead).
            builder.CreateResourceBuilder(web).WithEndpoint("http", endpoint => (endpoint.Port, endpoint.IsProxied) = (Ports.Free(), false));
            builder.CreateResourceBuilder(web)
                .WithEnvironment("Clock__OffsetFile", ClockOffsetFile(dataDirectory))
                .WithEnvironment("Access__ExpiryCheckInterval", "00:00:01")
                .WithEnvironment("Email__PollInterval", "00:00:01")
                .WithEnvironment("Tools__CullInterval", "00:00:01")
                .WithEnvironment(context =>
                {
                    // A second copy of the sample app that is stopped after 4 idle seconds, for the idle-culling test.
                    foreach (var (name, value) in context.EnvironmentVariables.Where(v => v.Key.StartsWith("Tools__Templates__0__Command__", StringComparison.Ordinal)).ToList())
                        context.EnvironmentVariables["Tools__Templates__9__" + name["Tools__Templates__0__".Length..]] = value;
                    context.EnvironmentVariables["Tools__Templates__9__Name"] = "Idle sample app";
                    context.EnvironmentVariables["Tools__Templates__9__HostBasename"] = "idle";
                    context.EnvironmentVariables["Tools__Templates__9__DefaultSize"] = "Small";
                    context.EnvironmentVariables["Tools__Templates__9__IdleTimeout"] = "00:00:04";
                    // A tool that uses S3 through boto3, as notebooks do (see S3Tool).
                    context.EnvironmentVariables["Tools__Templates__10__Name"] = "Files tool";
                    context.EnvironmentVariables["Tools__Templates__10__HostBasename"] = "files";
                    context.EnvironmentVariables["Tools__Templates__10__DefaultSize"] = "Small";
                    context.EnvironmentVariables["Tools__Templates__10__Command__0"] = "python3";
                    context.EnvironmentVariables["Tools__Templates__10__Command__1"] = S3Tool.Script;
                    context.EnvironmentVariables["Tools__Templates__10__Command__2"] = "{port}";
                    // A third copy of the sample app that answers a few seconds after it starts, for the browser tests
                    // that watch a tool starting (the Tools page, the progress page); no other test starts it.
                    var sample = string.Join(' ', Enumerable.Range(0, 10).Select(i => context.EnvironmentVariables.GetValueOrDefault($"Tools__Templates__0__Command__{i}") as string)
                        .TakeWhile(part => part is not null).Select(part => "'" + part!.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
                    context.EnvironmentVariables["Tools__Templates__11__Name"] = "Slow sample app";
                    context.EnvironmentVariables["Tools__Templates__11__HostBasename"] = "slow";
                    context.EnvironmentVariables["Tools__Templates__11__DefaultSize"] = "Small";
                    context.EnvironmentVariables["Tools__Templates__11__Command__0"] = "sh";
                    context.EnvironmentVariables["Tools__Templates__11__Command__1"] = "-c";
                    context.EnvironmentVariables["Tools__Templates__11__Command__2"] = "sleep 4; exec " + sample;
                });
            builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "proxy"))
                .WithEnvironment("Proxy__ActivityReportInterval", "00:00:00.500")
                // Every session is checked with the identity provider every two seconds, not every hour.
                .WithEnvironment("Proxy__SessionCheckInterval", "00:00:02")
                // Tests connect from other loopback addresses to stand for other networks: 127.0.0.3 is another
                // allowed group, 127.0.0.2 is on no allow list.
                .WithEnvironment("Proxy__IpGroups__this-machine__0", "127.0.0.1/32")
                .WithEnvironment("Proxy__IpGroups__second-desk__0", "127.0.0.3/32")
                .WithEnvironment("Proxy__IpAllowList__1", "second-desk");
        }

        else
        {
            // A benchmark measures what a deployment runs: Production, not the developer exception page and the
            // Development-only checks of dependency injection.
            foreach (var project in builder.Resources.OfType<ProjectResource>())
                builder.CreateResourceBuilder(project)
                    .WithEnvironment("ASPNETCORE_ENVIRONMENT", "Production")
                    .WithEnvironment("DOTNET_ENVIRONMENT", "Production");
        }

        if (testSettings)
        {
            // Demo users of the leavers' tests alone, so disabling or deactivating them disturbs no other test.
            var identity = builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "identity"));
            foreach (var (index, user) in LeaverUsers.Index())
                identity.WithEnvironment($"DevIdentity__Users__{100 + index}__Id", user.Id)
                    .WithEnvironment($"DevIdentity__Users__{100 + index}__Email", user.Email)
                    .WithEnvironment($"DevIdentity__Users__{100 + index}__FirstName", user.FirstName)
                    .WithEnvironment($"DevIdentity__Users__{100 + index}__LastName", user.LastName)
                    .WithEnvironment($"DevIdentity__Users__{100 + index}__Description", "a test user who leaves");
        }

        var app = await builder.BuildAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
        // The proxy and the web app start side by side: the platform answers once both do. A start that never gets
        // there (a step that failed, so what waits for it never starts) fails the test saying which, not hangs it.
        using var starting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        starting.CancelAfter(StartTimeout);
        try
        {
            await Task.WhenAll(app.ResourceNotifications.WaitForResourceHealthyAsync("proxy", starting.Token),
                app.ResourceNotifications.WaitForResourceHealthyAsync("web", starting.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var report = await DescribeResourcesAsync(app);
            await app.DisposeAsync();
            throw new TimeoutException($"The platform did not become healthy within {StartTimeout.TotalSeconds:0} s. Resources:\n{report}");
        }
        return new RunningPlatform(app, new Uri($"http://dataworkspace.localhost:{portalPort}/"), dataDirectory);
    }

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);

    /// <summary>Each resource's state and exit code, and the last lines of those not running, for a start that failed.</summary>
    private static async Task<string> DescribeResourcesAsync(DistributedApplication app)
    {
        var model = app.Services.GetRequiredService<DistributedApplicationModel>();
        var logs = app.Services.GetRequiredService<ResourceLoggerService>();
        var report = new System.Text.StringBuilder();
        foreach (var resource in model.Resources)
        {
            if (!app.ResourceNotifications.TryGetCurrentState(resource.Name, out var current))
                continue;
            var state = current.Snapshot.State?.Text ?? "(none)";
            report.AppendLine($"- {resource.Name}: {state}{(current.Snapshot.ExitCode is { } code ? $", exit code {code}" : "")}");
            if (state is "Running" or "(none)")
                continue;
            using var enough = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            var lines = new List<string>();
            try
            {
                await foreach (var batch in logs.GetAllAsync(resource.Name).WithCancellation(enough.Token))
                    lines.AddRange(batch.Select(line => line.Content));
            }
            catch (OperationCanceledException)
            {
            }
            foreach (var line in lines.TakeLast(15))
                report.AppendLine("    " + line);
        }
        return report.ToString();
    }

    public PortalClient Client(bool followRedirects = true) => new(PortalUrl, followRedirects);

    /// <summary>Demo users only the leavers' tests sign in as (added to the identity provider of a test graph).</summary>
    public static readonly IReadOnlyList<(string Id, string Email, string FirstName, string LastName)> LeaverUsers =
    [
        ("5b0c8f2e-1d4a-4c6e-9a7b-3e2f1d0c9b81", "alex.leaver@trade.example", "Alex", "Leaver"),
        ("9e4d2c1b-7a6f-4e5d-8c3b-2a1f0e9d8c72", "sam.gone@partner.example", "Sam", "Gone"),
    ];

    private static int IdentityPort(string dataDirectory)
    {
        var file = Path.Combine(dataDirectory, "identity-port");
        if (File.Exists(file)) return int.Parse(File.ReadAllText(file), System.Globalization.CultureInfo.InvariantCulture);
        Directory.CreateDirectory(dataDirectory);
        var port = Ports.Free();
        File.WriteAllText(file, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return port;
    }

    /// <summary>
    /// Disables, removes or enables (<c>Active</c>) a demo user at the identity provider, on its demo users page, as an
    /// organisation does when someone leaves.
    /// </summary>
    public async Task SetIdentityUserStatusAsync(string email, string status, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, CookieContainer = new System.Net.CookieContainer() }) { BaseAddress = IdentityUrl };
        var page = await http.GetStringAsync("/users", cancellationToken);
        var token = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value;
        using var response = await http.PostAsync("/users", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["email"] = email,
            ["status"] = status,
            ["__RequestVerificationToken"] = token,
        }), cancellationToken);
        var after = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!after.Contains($"{email} is now {status.ToLowerInvariant()}", StringComparison.Ordinal))
            throw new InvalidOperationException($"The identity provider did not make {email} {status}: {(int)response.StatusCode} {after}");
    }

    private static string ClockOffsetFile(string dataDirectory) => Path.Combine(dataDirectory, "clock-offset");

    /// <summary>Moves the web app's clock (access expiry, training lapse) forward by <paramref name="offset"/> from now on.</summary>
    public Task MoveClockAsync(TimeSpan offset) =>
        File.WriteAllTextAsync(ClockOffsetFile(DataDirectory), offset.ToString("c", System.Globalization.CultureInfo.InvariantCulture));

    public Uri WebUrl => App.GetEndpoint("web", "http");

    public Uri IdentityUrl => App.GetEndpoint("identity", "http");

    public async Task<T?> CatalogueScalarAsync<T>(string sql, params object[] parameters)
    {
        var connectionString = await App.GetConnectionStringAsync("catalogue") ?? throw new InvalidOperationException("no catalogue connection string");
        return await Sql.ScalarAsync<T>(connectionString, sql, parameters);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
