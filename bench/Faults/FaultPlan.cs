using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Bench.Faults;

/// <summary>What one fault did: when it was injected, when users were served again, and what was lost.</summary>
/// <param name="Name">postgres-restart, tool-killed, s3-down, web-restart or proxy-replica-killed.</param>
/// <param name="Start">When the fault was injected: a load's errors from here to <paramref name="Recovered"/> are this fault's.</param>
/// <param name="Recovered">When the witnesses were served normally again (the s3sync catch-up, for s3-down).</param>
/// <param name="Lost">Things users were told were done (access requests, audit entries, uploaded files) that are not there.</param>
/// <param name="Detail">What users saw meanwhile (statuses and page titles), and how recovery was measured.</param>
public sealed record FaultOutcome(string Name, DateTimeOffset Start, DateTimeOffset Recovered, bool RecoveredWithinTarget, int Lost, string Detail)
{
    public TimeSpan RecoveryTime => Recovered - Start;
}

public sealed record FaultOptions
{
    /// <summary>The faults to inject, in this order (the default: all five).</summary>
    public IReadOnlyList<string> Faults { get; init; } = FaultPlan.All;

    /// <summary>How long S3 (moto) does not answer.</summary>
    public TimeSpan S3Outage { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Signed-in users of the plan's own, writing audited actions throughout; what they were told is what is checked.</summary>
    public int Witnesses { get; init; } = 4;

    /// <summary>Normal service before the first fault and between faults.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>The name figures are recorded under (BenchResults' bench).</summary>
    public string Bench { get; init; } = "Faults";
}

/// <summary>
/// Issue 21's faults, injected one after another into a running platform while a few signed-in users of its own (the
/// witnesses) ask for access, upload files and open pages through two proxy replicas; then what they were told is
/// compared with what the database and S3 hold. Each fault's recovery time and losses become BenchResults figures.
/// </summary>
public static class FaultPlan
{
    public const string PostgresRestart = "postgres-restart";
    public const string ToolKilled = "tool-killed";
    public const string S3Down = "s3-down";
    public const string WebRestart = "web-restart";
    public const string ProxyReplicaKilled = "proxy-replica-killed";
    public static readonly IReadOnlyList<string> All = [PostgresRestart, ToolKilled, S3Down, WebRestart, ProxyReplicaKilled];

    /// <summary>The second proxy replica's resource name.</summary>
    public const string SecondProxy = "proxy-b";

    /// <summary>How many witness users the identity provider knows (FaultOptions.Witnesses may use up to this many).</summary>
    public const int MaxWitnesses = 8;

    internal static string WitnessEmail(int index) => $"fault-witness-{index}@trade.example";

    /// <summary>
    /// What the plan needs in the graph; call it from RunningPlatform.StartAsync's addResources. A second proxy replica
    /// (<see cref="SecondProxy"/>, same settings, forwarding to the same web app) on <paramref name="secondPortalPort"/>;
    /// the web app listening itself on a fixed port (stopped, nothing answers there and the proxy shows its 503 page, as
    /// in a deployment: the orchestrator's own proxy in front would hold each request instead); the witness users.
    /// </summary>
    public static void AddResources(IDistributedApplicationTestingBuilder builder, int secondPortalPort)
    {
        var web = builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "web");
        var proxy = builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "proxy");
        builder.CreateResourceBuilder(web).WithEndpoint("http", endpoint => (endpoint.Port, endpoint.IsProxied) = (Ports.Free(), false));

        var path = proxy.Annotations.OfType<IProjectMetadata>().Single().ProjectPath;
        // Not the launch profile: its fixed port is the first replica's.
        var second = builder.AddProject(SecondProxy, path, options => options.ExcludeLaunchProfile = true)
            .WithHttpEndpoint(port: secondPortalPort, isProxied: false)
            .WithHttpHealthCheck("/health")
            .WithEnvironment(async context =>
            {
                var theirs = new EnvironmentCallbackContext(context.ExecutionContext, proxy, [], context.CancellationToken);
                foreach (var callback in proxy.Annotations.OfType<EnvironmentCallbackAnnotation>()) await callback.Callback(theirs);
                foreach (var (name, value) in theirs.EnvironmentVariables)
                    if (!OwnAddresses.Contains(name) && !context.EnvironmentVariables.ContainsKey(name)) context.EnvironmentVariables[name] = value;
            });
        foreach (var wait in proxy.Annotations.OfType<WaitAnnotation>()) second.Resource.Annotations.Add(wait);

        var portal = $"http://dataworkspace.localhost:{secondPortalPort.ToString(CultureInfo.InvariantCulture)}";
        var identity = builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "identity"))
            .WithEnvironment("DevIdentity__Clients__0__RedirectUris__7", $"{portal}/auth/callback")
            .WithEnvironment("DevIdentity__Clients__0__PostLogoutRedirectUris__7", $"{portal}/auth/signed-out");
        for (var i = 0; i < MaxWitnesses; i++)
        {
            var id = "0fa17000-0000-4000-8000-" + i.ToString("D12", CultureInfo.InvariantCulture);
            identity.WithEnvironment($"DevIdentity__Users__{300 + i}__Id", id)
                .WithEnvironment($"DevIdentity__Users__{300 + i}__Email", WitnessEmail(i))
                .WithEnvironment($"DevIdentity__Users__{300 + i}__FirstName", "Witness")
                .WithEnvironment($"DevIdentity__Users__{300 + i}__LastName", (i + 1).ToString(CultureInfo.InvariantCulture))
                .WithEnvironment($"DevIdentity__Users__{300 + i}__Description", "a user of the faults bench");
        }
    }

    private static readonly HashSet<string> OwnAddresses = new(["ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS", "HTTP_PORTS", "HTTPS_PORTS"], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Injects each fault of <paramref name="options"/> in turn while the witnesses work, waits for recovery, and records
    /// each fault's figures. The platform must have been started with <see cref="AddResources"/>.
    /// </summary>
    /// <param name="ct">
    /// The time for faults: no fault starts after it is cancelled, but one under way is seen through to recovery (within
    /// a few minutes of its own), so that no resource is left stopped.
    /// </param>
    public static async Task<IReadOnlyList<FaultOutcome>> RunAsync(RunningPlatform platform, FaultOptions options, Action<string> log, CancellationToken ct)
    {
        await using var run = await FaultRun.StartAsync(platform, options, log, ct);
        return await run.InjectAllAsync(ct);
    }
}
