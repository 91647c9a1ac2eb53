using System.Net;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.DnsRewrite;

/// <summary>An address at the end of the upstream's CNAME chain, with the lowest TTL along the chain.</summary>
public sealed record UpstreamAddress(IPAddress Address, int TimeToLive);

/// <summary>What the upstream said about a rewritten name: its return code and the addresses it led to.</summary>
public sealed record UpstreamAnswer(ReturnCode ReturnCode, IReadOnlyList<UpstreamAddress> Addresses);

/// <summary>
/// Answers a tool's query: a name that a rule matches is looked up upstream under its rewritten name and answered under
/// the asked name (CNAME chains flattened); any other name, and any type but A and AAAA, is refused.
/// </summary>
public sealed class RewritingResolver : IDisposable
{
    public const int MaxLookupsInFlight = 4096;

    private const int MaxNameLength = 255;
    private const int MaxLabelLength = 63;
    private const int MaxChainLength = 16;
    // The EDNS payload size that avoids IP fragmentation (DNS flag day 2020).
    private const ushort UdpPayloadSize = 1232;
    private const ushort MinimumUdpPayloadSize = 512;

    private readonly RewriteRules rules;
    private readonly DnsRewriteSettings settings;
    private readonly UpstreamClient upstream;
    private readonly DnsRewriteMetrics metrics;
    private readonly ILogger logger;
    private readonly SemaphoreSlim lookups = new(MaxLookupsInFlight, MaxLookupsInFlight);

    public RewritingResolver(DnsRewriteSettings settings, DnsRewriteMetrics metrics, ILogger<RewritingResolver> logger)
    {
        this.settings = settings;
        this.metrics = metrics;
        this.logger = logger;
        rules = new RewriteRules(settings.Rules);
        upstream = new UpstreamClient(settings.Upstream, settings.UpstreamTimeout, UdpPayloadSize, logger);
    }

    /// <summary>The response to <paramref name="query"/>, which came from <paramref name="client"/>.</summary>
    public async Task<DnsMessage> AnswerAsync(DnsMessage query, IPEndPoint client, CancellationToken cancellationToken)
    {
        var response = query.CreateResponseInstance();
        response.IsRecursionAllowed = true;
        if (response.IsEDnsEnabled)
            response.EDnsOptions!.UdpPayloadSize = Math.Clamp(query.EDnsOptions!.UdpPayloadSize, MinimumUdpPayloadSize, UdpPayloadSize);

        if (query.OperationCode != OperationCode.Query)
            return Fail(response, ReturnCode.NotImplemented);
        if (query.Questions.Count != 1)
            return Fail(response, ReturnCode.FormatError);
        var question = query.Questions[0];
        if (EncodedLength(question.Name) > MaxNameLength)
        {
            // Echoing a name longer than DNS allows would make the response as malformed as the query.
            response.Questions.Clear();
            return Fail(response, ReturnCode.FormatError);
        }

        var asked = question.Name.ToString(false).ToLowerInvariant();
        var recordType = question.RecordType.ToString().ToUpperInvariant();
        if (question.RecordClass != RecordClass.INet || question.RecordType is not (RecordType.A or RecordType.Aaaa))
            return Refuse(response, asked, recordType, client, "not_a_or_aaaa", "only A and AAAA queries are answered");

        string? rewritten;
        int rule;
        try
        {
            rewritten = rules.Rewrite(asked, out rule);
        }
        catch (RegexMatchTimeoutException)
        {
            DnsRewriteLog.RuleTimeout(logger, asked);
            return Refuse(response, asked, recordType, client, "rule_timeout", "matching the rules took too long");
        }
        if (rewritten is null)
            return Refuse(response, asked, recordType, client, "no_rule", "no rule matches the name");
        if (!TryParseName(rewritten, out var upstreamName))
        {
            DnsRewriteLog.BadRewrite(logger, rule, asked, rewritten);
            return Fail(response, ReturnCode.ServerFailure);
        }

        // A flood while the upstream is slow must not pile up waiting lookups without bound (memory, and query IDs).
        if (!lookups.Wait(0, CancellationToken.None))
        {
            DnsRewriteLog.Overloaded(logger, MaxLookupsInFlight, asked);
            return Fail(response, ReturnCode.ServerFailure, "overloaded");
        }
        UpstreamAnswer? answer;
        try
        {
            answer = await LookUpAsync(upstreamName, question.RecordType, cancellationToken);
        }
        finally
        {
            lookups.Release();
        }
        if (answer is null)
            return Fail(response, ReturnCode.ServerFailure, "no_answer");
        if (answer.ReturnCode != ReturnCode.NoError)
        {
            DnsRewriteLog.UpstreamError(logger, Mnemonic(answer.ReturnCode), rewritten, recordType, asked, client);
            return Fail(response, answer.ReturnCode);
        }

        foreach (var address in answer.Addresses)
        {
            response.AnswerRecords.Add(question.RecordType == RecordType.A
                ? new ARecord(question.Name, address.TimeToLive, address.Address)
                : new AaaaRecord(question.Name, address.TimeToLive, address.Address));
        }
        metrics.Answered(recordType);
        DnsRewriteLog.Answered(logger, asked, recordType, client, answer.Addresses.Count, rewritten, rule);
        return response;
    }

    /// <summary>What the rules and the upstream make of <paramref name="name"/>'s A record: the health check's question.</summary>
    public async Task<(string? UpstreamName, UpstreamAnswer? Answer)> ResolveAsync(string name, CancellationToken cancellationToken)
    {
        string? rewritten;
        try
        {
            rewritten = rules.Rewrite(name.TrimEnd('.').ToLowerInvariant(), out _);
        }
        catch (RegexMatchTimeoutException)
        {
            return (null, null);
        }
        if (rewritten is null || !TryParseName(rewritten, out var upstreamName))
            return (rewritten, null);
        return (rewritten, await LookUpAsync(upstreamName, RecordType.A, cancellationToken));
    }

    /// <summary>The upstream's answer for <paramref name="name"/>, or null when it did not answer in time.</summary>
    private async Task<UpstreamAnswer?> LookUpAsync(DomainName name, RecordType recordType, CancellationToken cancellationToken)
    {
        var message = await upstream.AskAsync(name, recordType, cancellationToken);
        if (message is null)
        {
            DnsRewriteLog.UpstreamSilent(logger, settings.Upstream, name.ToString(false), recordType.ToString().ToUpperInvariant(), (int)settings.UpstreamTimeout.TotalMilliseconds);
            return null;
        }
        if (message.ReturnCode != ReturnCode.NoError)
            return new UpstreamAnswer(message.ReturnCode, []);

        var target = name;
        var chainTimeToLive = int.MaxValue;
        for (var hop = 0; hop < MaxChainLength; hop++)
        {
            var alias = message.AnswerRecords.OfType<CNameRecord>().FirstOrDefault(record => record.Name.Equals(target, ignoreCase: true));
            if (alias is null)
                break;
            chainTimeToLive = Math.Min(chainTimeToLive, alias.TimeToLive);
            target = alias.CanonicalName;
        }
        var addresses = new List<UpstreamAddress>();
        foreach (var record in message.AnswerRecords)
        {
            if (record.RecordType != recordType || !record.Name.Equals(target, ignoreCase: true))
                continue;
            var address = record switch
            {
                ARecord a => a.Address,
                AaaaRecord aaaa => aaaa.Address,
                _ => null,
            };
            if (address is not null)
                addresses.Add(new UpstreamAddress(address, Math.Min(chainTimeToLive, record.TimeToLive)));
        }
        return new UpstreamAnswer(ReturnCode.NoError, addresses);
    }

    private DnsMessage Refuse(DnsMessage response, string name, string recordType, IPEndPoint client, string reason, string description)
    {
        metrics.Refused(reason);
        DnsRewriteLog.Refused(logger, name, recordType, client, description);
        response.ReturnCode = ReturnCode.Refused;
        return response;
    }

    private DnsMessage Fail(DnsMessage response, ReturnCode returnCode, string? reason = null)
    {
        metrics.Error(reason ?? Mnemonic(returnCode));
        response.ReturnCode = returnCode;
        return response;
    }

    private static bool TryParseName(string text, out DomainName name)
    {
        if (DomainName.TryParse(text, out var parsed) && parsed is not null && parsed.LabelCount > 0
            && parsed.Labels.All(label => label.Length is > 0 and <= MaxLabelLength) && EncodedLength(parsed) <= MaxNameLength)
        {
            name = parsed;
            return true;
        }
        name = DomainName.Root;
        return false;
    }

    private static int EncodedLength(DomainName name) => name.Labels.Sum(label => label.Length + 1) + 1;

    /// <summary>The return code as DNS tools print it.</summary>
    public static string Mnemonic(ReturnCode returnCode) => returnCode switch
    {
        ReturnCode.NoError => "NOERROR",
        ReturnCode.FormatError => "FORMERR",
        ReturnCode.ServerFailure => "SERVFAIL",
        ReturnCode.NxDomain => "NXDOMAIN",
        ReturnCode.NotImplemented => "NOTIMP",
        ReturnCode.Refused => "REFUSED",
        _ => ((int)returnCode).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public void Dispose()
    {
        upstream.Dispose();
        lookups.Dispose();
    }
}
