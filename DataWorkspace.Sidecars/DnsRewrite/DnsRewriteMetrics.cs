using System.Diagnostics.Metrics;

namespace DataWorkspace.Sidecars.DnsRewrite;

/// <summary>The dns-rewrite sidecar's counters, on a meter that OpenTelemetry (or dotnet-counters) can listen to.</summary>
public sealed class DnsRewriteMetrics
{
    public const string MeterName = "DataWorkspace.Sidecars.DnsRewrite";

    private readonly Counter<long> queries;
    private readonly Counter<long> answers;
    private readonly Counter<long> refused;
    private readonly Counter<long> errors;
    private readonly Counter<long> malformed;

    public DnsRewriteMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        queries = meter.CreateCounter<long>("dns_rewrite.queries", "{query}", "Queries read, by transport");
        answers = meter.CreateCounter<long>("dns_rewrite.answers", "{response}", "Queries answered with the upstream's addresses (NOERROR), by record type");
        refused = meter.CreateCounter<long>("dns_rewrite.refused", "{response}", "Queries answered REFUSED: no rule matched the name, or the type is not A or AAAA");
        errors = meter.CreateCounter<long>("dns_rewrite.errors", "{response}", "Queries answered with an error: the upstream's (NXDOMAIN, SERVFAIL...) or no answer from it");
        malformed = meter.CreateCounter<long>("dns_rewrite.malformed", "{packet}", "Packets dropped because they are not a readable DNS query");
    }

    public void Query(string transport) => queries.Add(1, new KeyValuePair<string, object?>("transport", transport));

    public void Answered(string recordType) => answers.Add(1, new KeyValuePair<string, object?>("record_type", recordType));

    public void Refused(string reason) => refused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Error(string returnCode) => errors.Add(1, new KeyValuePair<string, object?>("rcode", returnCode));

    public void Malformed(string reason) => malformed.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
