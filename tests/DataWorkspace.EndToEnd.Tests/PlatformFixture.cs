using DataWorkspace.TestSupport;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>One platform for the test assembly (starting it takes seconds), on a fresh data directory.</summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    private readonly string dataDirectory = Path.Combine(Path.GetTempPath(), "dw-e2e-" + Guid.NewGuid().ToString("N")[..12]);

    public RunningPlatform Platform { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        Platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, Ports.Free(), timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (Platform is not null) await Platform.DisposeAsync();
        TestDirectories.Delete(dataDirectory);
    }
}
