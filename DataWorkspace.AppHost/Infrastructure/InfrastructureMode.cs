using Microsoft.Extensions.Configuration;
using System.Diagnostics;

namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>How Postgres and the AWS emulator run: as containers, or as local executables when no container runtime is healthy.</summary>
public enum InfrastructureMode
{
    Auto,
    Containers,
    Local,
}

public static class InfrastructureModeResolver
{
    public const string Setting = "Infrastructure";

    public static InfrastructureMode Resolve(IConfiguration configuration, bool isPublishMode)
    {
        // A published graph always describes containers (ECS); executables on a developer's machine mean nothing there.
        if (isPublishMode) return InfrastructureMode.Containers;

        var configured = configuration[Setting] ?? nameof(InfrastructureMode.Auto);
        if (!Enum.TryParse<InfrastructureMode>(configured, ignoreCase: true, out var mode))
            throw new InvalidOperationException($"{Setting}={configured} is not understood: use Auto, Containers or Local.");

        return mode == InfrastructureMode.Auto
            ? (ContainerRuntimeIsHealthy() ? InfrastructureMode.Containers : InfrastructureMode.Local)
            : mode;
    }

    private static bool ContainerRuntimeIsHealthy()
    {
        foreach (var runtime in new[] { "docker", "podman" })
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo(runtime, "info --format {{.ServerVersion}}")
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                });
                if (process is null) continue;
                if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
                {
                    process.Kill(entireProcessTree: true);
                    continue;
                }

                if (process.ExitCode == 0) return true;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not installed.
            }
        }

        return false;
    }
}
