using System.Diagnostics;
using DataWorkspace.TestSupport;

/// <summary>The peer: the aws CLI with its default settings (10 requests at once), against the same endpoint.</summary>
internal sealed class AwsCli(Uri endpoint)
{
    // The executable behind pyenv's shim when there is one, so that the shim's own start-up is not counted against aws.
    private readonly string executable = Resolve();

    public string Version()
    {
        using var aws = Process.Start(Start(["--version"]))!;
        var text = aws.StandardOutput.ReadToEnd() + aws.StandardError.ReadToEnd();
        aws.WaitForExit();
        return text.Split(' ')[0].Trim();
    }

    /// <summary>Runs <c>aws ARGS --endpoint-url ...</c> and returns how long it took, from start to exit.</summary>
    public async Task<TimeSpan> RunAsync(params string[] arguments)
    {
        var start = Start([.. arguments, "--endpoint-url", endpoint.ToString().TrimEnd('/')]);
        var clock = Stopwatch.StartNew();
        using var aws = Process.Start(start) ?? throw new InvalidOperationException("aws did not start");
        var output = aws.StandardOutput.ReadToEndAsync();
        var errors = await aws.StandardError.ReadToEndAsync();
        await aws.WaitForExitAsync();
        var elapsed = clock.Elapsed;
        await output;
        return aws.ExitCode == 0 ? elapsed : throw new InvalidOperationException($"aws {string.Join(' ', arguments)} failed ({aws.ExitCode}): {errors}");
    }

    private ProcessStartInfo Start(string[] arguments)
    {
        var start = new ProcessStartInfo(executable, arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["AWS_ACCESS_KEY_ID"] = MotoServer.AccessKeyId;
        start.Environment["AWS_SECRET_ACCESS_KEY"] = MotoServer.SecretAccessKey;
        start.Environment["AWS_DEFAULT_REGION"] = MotoServer.Region;
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        // No configuration file of this machine's user: the CLI's defaults, as on a fresh install.
        start.Environment["AWS_CONFIG_FILE"] = "/nonexistent/aws-config";
        start.Environment["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/aws-credentials";
        return start;
    }

    private static string Resolve()
    {
        try
        {
            using var which = Process.Start(new ProcessStartInfo("bash", ["-c", "command -v pyenv >/dev/null && pyenv which aws 2>/dev/null || command -v aws"]) { RedirectStandardOutput = true })!;
            var path = which.StandardOutput.ReadToEnd().Trim();
            which.WaitForExit();
            return path.Length > 0 ? path : throw new InvalidOperationException("the aws CLI is not on PATH: apt-get install awscli (or pip install awscli)");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "aws";
        }
    }
}
