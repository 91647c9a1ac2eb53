using System.Net;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.DnsRewrite;

/// <summary>The sidecar's log events, with their fields named so the JSON log can be searched by them.</summary>
internal static partial class DnsRewriteLog
{
    [LoggerMessage(1, LogLevel.Warning, "Dropped a {Transport} packet of {Length} bytes from {Client}: {Problem}")]
    public static partial void Malformed(ILogger logger, string transport, IPEndPoint client, int length, string problem);

    [LoggerMessage(2, LogLevel.Warning, "Dropped a query that could not be parsed: {Problem}")]
    public static partial void Unparsable(ILogger logger, string problem);

    [LoggerMessage(3, LogLevel.Information, "Refused {Name} {RecordType} from {Client}: {Reason}")]
    public static partial void Refused(ILogger logger, string name, string recordType, IPEndPoint client, string reason);

    [LoggerMessage(4, LogLevel.Debug, "Answered {Name} {RecordType} from {Client} with {Addresses} address(es) of {UpstreamName} (rule {Rule})")]
    public static partial void Answered(ILogger logger, string name, string recordType, IPEndPoint client, int addresses, string upstreamName, int rule);

    [LoggerMessage(5, LogLevel.Information, "Upstream answered {ReturnCode} for {UpstreamName} {RecordType}, asked as {Name} by {Client}")]
    public static partial void UpstreamError(ILogger logger, string returnCode, string upstreamName, string recordType, string name, IPEndPoint client);

    [LoggerMessage(6, LogLevel.Warning, "Upstream {Upstream} did not answer for {UpstreamName} {RecordType} within {TimeoutMilliseconds} ms")]
    public static partial void UpstreamSilent(ILogger logger, IPEndPoint upstream, string upstreamName, string recordType, int timeoutMilliseconds);

    [LoggerMessage(7, LogLevel.Warning, "Rule {Rule} rewrote {Name} to {UpstreamName}, which is not a DNS name")]
    public static partial void BadRewrite(ILogger logger, int rule, string name, string upstreamName);

    [LoggerMessage(8, LogLevel.Warning, "Matching {Name} against the rules took too long; refused")]
    public static partial void RuleTimeout(ILogger logger, string name);

    [LoggerMessage(9, LogLevel.Error, "Failed while answering a query")]
    public static partial void Failed(ILogger logger, Exception exception);

    [LoggerMessage(12, LogLevel.Warning, "{Limit} upstream lookups are already waiting; answered SERVFAIL for {Name}")]
    public static partial void Overloaded(ILogger logger, int limit, string name);

    [LoggerMessage(10, LogLevel.Information, "dns-rewrite listening on {Listen} (UDP and TCP), upstream {Upstream}, {RuleCount} rule(s): {Rules}")]
    public static partial void Started(ILogger logger, IPEndPoint listen, IPEndPoint upstream, int ruleCount, string rules);

    [LoggerMessage(11, LogLevel.Information, "dns-rewrite stopped")]
    public static partial void Stopped(ILogger logger);
}
