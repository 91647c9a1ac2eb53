using System.CommandLine;
using DataWorkspace.Sidecars;

var root = new RootCommand("Data Workspace sidecars: one executable, one command per sidecar, run beside each tool container.")
{
    HealthcheckCommand.Create(),
    SampleAppCommand.Create(),
    PlannedCommand.Create("metrics", "Exports the tool container's CPU, memory and network figures for Prometheus."),
    S3SyncCommand.Create(),
    DnsRewriteCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
