using System.Diagnostics;
using System.Net;
using DataWorkspace.Sidecars;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>Runs the real <c>dataworkspace-sidecar</c> executable, as a container's entry point would.</summary>
public sealed class SidecarCommandLineTests
{
    [Fact]
    public async Task Help_lists_every_sidecar_command()
    {
        var (exitCode, output) = await RunAsync("--help");

        Assert.Equal(0, exitCode);
        foreach (var command in new[] { "healthcheck", "sample-app", "metrics", "s3sync", "dns-rewrite" })
            Assert.Contains(command, output);
    }

    [Fact]
    public async Task Healthcheck_succeeds_when_the_endpoint_answers_2xx_and_fails_when_it_does_not()
    {
        // The sample app (Kestrel) is the endpoint: /health answers 200, a malformed /bytes request 400.
        var port = Ports.Free();
        await using var server = SampleApp.Build("127.0.0.1", port);
        await server.StartAsync(TestContext.Current.CancellationToken);

        var healthy = await RunAsync("healthcheck", "--url", $"http://127.0.0.1:{port}/health");
        var unhealthy = await RunAsync("healthcheck", "--url", $"http://127.0.0.1:{port}/bytes/lots");
        await server.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(0, healthy.ExitCode);
        Assert.Equal(1, unhealthy.ExitCode);
        Assert.Contains("400", unhealthy.Output);
    }

    [Fact]
    public async Task Healthcheck_of_a_closed_port_fails_and_says_why()
    {
        var (exitCode, output) = await RunAsync("healthcheck", "--url", $"http://127.0.0.1:{Ports.Free()}/", "--timeout-seconds", "2");

        Assert.Equal(1, exitCode);
        Assert.Contains("did not answer", output);
    }

    [Fact]
    public async Task A_malformed_url_is_refused_with_a_message()
    {
        var (exitCode, output) = await RunAsync("healthcheck", "--url", "not a url");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--url must be an absolute http or https address", output);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(params string[] arguments)
    {
        var executable = Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll");
        using var process = Process.Start(new ProcessStartInfo("dotnet", [executable, .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await output + await error);
    }
}
