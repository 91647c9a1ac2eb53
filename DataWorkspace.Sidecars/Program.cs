using System.CommandLine;
using DataWorkspace.Sidecars;

var root = new RootCommand("Data Workspace sidecars: one executable, one command per sidecar, run beside each tool container.")
{
    HealthcheckCommand.Create(),
    SampleAppCommand.Create(),
    MetricsCommand.Create(),
    S3SyncCommand.Create(),
    DnsRewriteCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
