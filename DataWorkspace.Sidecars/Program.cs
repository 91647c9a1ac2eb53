using System.CommandLine;
using DataWorkspace.Sidecars;

var root = new RootCommand("Data Workspace sidecars: one executable, one command per sidecar, run beside each tool container.")
{
    HealthcheckCommand.Create(),
    SampleAppCommand.Create(),
    MetricsCommand.Create(),
    PlannedCommand.Create("s3sync", "Keeps the tool's home folder in step with the user's S3 prefix."),
    DnsRewriteCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
