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
        foreach (var command in new[] { "healthcheck", "home-owner", "sample-app", "metrics", "s3sync", "dns-rewrite" })
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

    [Fact]
    public async Task Home_owner_gives_the_home_folder_and_everything_in_it_to_the_tool_user_without_following_links_out()
    {
        // As a task's first container runs it: as root (the tests run as root, as CI does), on a root-owned volume.
        var home = Directory.CreateTempSubdirectory("home-owner-").FullName;
        var outside = Directory.CreateTempSubdirectory("outside-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(home, "notebooks", "drafts"));
            await File.WriteAllTextAsync(Path.Combine(home, "notebooks", "drafts", "a.ipynb"), "{}", TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(outside, "secret"), "root's", TestContext.Current.CancellationToken);
            File.CreateSymbolicLink(Path.Combine(home, "link-out"), Path.Combine(outside, "secret"));
            Directory.CreateSymbolicLink(Path.Combine(home, "folder-out"), outside);

            var (exitCode, output) = await RunAsync("home-owner", "--path", home, "--owner", "1654:1654");

            Assert.True(exitCode == 0, output);
            Assert.Contains("6 entries now owned by 1654:1654", output);
            foreach (var path in new[] { home, Path.Combine(home, "notebooks"), Path.Combine(home, "notebooks", "drafts", "a.ipynb"), Path.Combine(home, "link-out"), Path.Combine(home, "folder-out") })
                Assert.Equal("1654:1654", Owner(path));
            Assert.Equal("0:0", Owner(outside));
            Assert.Equal("0:0", Owner(Path.Combine(outside, "secret")));
        }
        finally
        {
            Directory.Delete(home, recursive: true);
            Directory.Delete(outside, recursive: true);
        }
    }

    [Fact]
    public async Task Home_owner_refuses_a_named_owner_and_a_missing_folder_with_a_message()
    {
        var named = await RunAsync("home-owner", "--path", Path.GetTempPath(), "--owner", "analyst");
        var missing = await RunAsync("home-owner", "--path", Path.Combine(Path.GetTempPath(), "no-such-home-" + Guid.NewGuid()), "--owner", "1654:1654");

        Assert.NotEqual(0, named.ExitCode);
        Assert.Contains("--owner must be a numeric uid:gid", named.Output);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("is not a folder: mount the task's home volume there", missing.Output);
    }

    // stat -c prints lstat's answer, so a link's own owner rather than its target's.
    private static string Owner(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%u:%g", path]) { RedirectStandardOutput = true })!;
        var owner = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return owner;
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
