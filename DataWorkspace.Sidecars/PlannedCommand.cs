using System.CommandLine;

namespace DataWorkspace.Sidecars;

/// <summary>A sidecar whose command is reserved but not built yet: it says so and exits with a distinct code.</summary>
public static class PlannedCommand
{
    public const int NotAvailableExitCode = 3;

    public static Command Create(string name, string description)
    {
        var command = new Command(name, description + " (not available in this release)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine($"The '{name}' sidecar is not available in this release of Data Workspace; run 'dataworkspace-sidecar --help' for the commands that are.");
            return NotAvailableExitCode;
        });
        return command;
    }
}
