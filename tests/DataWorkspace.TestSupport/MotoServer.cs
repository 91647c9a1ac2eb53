using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace DataWorkspace.TestSupport;

/// <summary>
/// moto's server on a free loopback port, standing in for AWS (S3, STS, ECS, EC2) in tests: credentials test/test,
/// region us-east-1. Started by <see cref="InitializeAsync"/>, killed by <see cref="DisposeAsync"/>.
/// </summary>
public class MotoServer : IAsyncLifetime
{
    public const string Region = "us-east-1";
    public const string AccessKeyId = "test";
    public const string SecretAccessKey = "test";
    private Process? process;

    public Uri Url { get; private set; } = null!;

    /// <summary>moto's process, for tests that pause it (SIGSTOP keeps what it holds) to stand for an outage.</summary>
    public int ProcessId => process?.Id ?? throw new InvalidOperationException("moto_server is not running");

    public virtual ValueTask InitializeAsync() => StartAsync(Ports.Free());

    /// <summary>Kills moto and starts it again on the same port, holding nothing: an outage in which S3 lost everything.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync(Url.Port);
    }

    private async ValueTask StartAsync(int port)
    {
        Url = new Uri($"http://127.0.0.1:{port}/");
        var start = new ProcessStartInfo("moto_server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-H", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture) }) start.ArgumentList.Add(argument);
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("moto_server did not start");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException("moto_server is not on PATH: the tests need it to stand in for AWS (pip install 'moto[server]'; .ci/run finds it).", exception);
        }

        // moto logs every request; reading its output keeps the pipes from filling and blocking it.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = Url };
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"moto_server exited with code {process.ExitCode}");
            try
            {
                using var response = await http.GetAsync("moto-api/");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow >= deadline) throw new TimeoutException($"moto_server did not answer on {Url} within 20 s");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        await StopAsync();
    }

    private async Task StopAsync()
    {
        if (process is null) return;
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        process.Dispose();
        process = null;
    }
}
