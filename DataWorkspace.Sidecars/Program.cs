using System.CommandLine;
using DataWorkspace.Sidecars;

var root = new RootCommand("Data Workspace sidecars: one executable, one command per sidecar, run beside each tool container.")
{
    HealthcheckCommand.Create(),
    HealthcheckServerCommand.Create(),
    SampleAppCommand.Create(),
    MetricsCommand.Create(),
    S3SyncCommand.Create(),
    DnsRewriteCommand.Create(),
};

// SIGTERM is left to each command's host, which stops within its own shutdown timeout: the library's default would
// end the process two seconds after SIGTERM, cutting off s3sync's last uploads.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
