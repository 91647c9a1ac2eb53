using DataWorkspace.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace DataWorkspace.EndToEnd.Tests;

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

    public static async Task<RunningPlatform> StartAsync(string dataDirectory, int portalPort, CancellationToken cancellationToken)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.DataWorkspace_AppHost>(
            ["Infrastructure=Local", $"DataDirectory={dataDirectory}", $"Portal:Port={portalPort}"],
            (options, _) => options.DisableDashboard = true,
            cancellationToken);

        // The graph's own logs go to the dashboard in a real run; tests show only its warnings.
        builder.Services.AddLogging(logging => logging
            .AddFilter("DataWorkspace.AppHost.Resources", LogLevel.Warning)
            .AddFilter("Aspire.Hosting", LogLevel.Warning)
            .AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None));

        // No collector listens in tests; without this each service waits to flush telemetry when stopped.
        foreach (var project in builder.Resources.OfType<ProjectResource>())
            builder.CreateResourceBuilder(project).WithEnvironment(context => context.EnvironmentVariables.Remove("OTEL_EXPORTER_OTLP_ENDPOINT"));

        var app = await builder.BuildAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("proxy", cancellationToken);
        return new RunningPlatform(app, new Uri($"http://dataworkspace.localhost:{portalPort}/"), dataDirectory);
    }

    public PortalClient Client(bool followRedirects = true) => new(PortalUrl, followRedirects);

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

/// <summary>One platform for the test assembly (starting it takes seconds), on a fresh data directory.</summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    private readonly string dataDirectory = Path.Combine(Path.GetTempPath(), "dw-e2e-" + Guid.NewGuid().ToString("N")[..12]);

    public RunningPlatform Platform { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        Platform = await RunningPlatform.StartAsync(dataDirectory, Ports.Free(), timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (Platform is not null) await Platform.DisposeAsync();
        TestDirectories.Delete(dataDirectory);
    }
}

public static class TestDirectories
{
    public static void Delete(string directory)
    {
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>The repository's root (where DataWorkspace.sln is), for artifacts and for running the AppHost.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "DataWorkspace.sln"))) return directory.FullName;
        throw new InvalidOperationException("DataWorkspace.sln was not found above " + AppContext.BaseDirectory);
    }
}
