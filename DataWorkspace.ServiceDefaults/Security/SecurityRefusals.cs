using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Security;

/// <summary>Why a request was refused for security reasons; the metric's <c>reason</c> tag and the log's.</summary>
public enum RefusalReason
{
    /// <summary>The client's address could not be worked out from the connection and X-Forwarded-For.</summary>
    ClientAddress,
    /// <summary>The client's address is not on the allow list for what it asked for.</summary>
    AllowList,
    /// <summary>A state-changing request came from another origin (a tool or visualisation host, another site).</summary>
    ForeignOrigin,
    /// <summary>A state-changing JSON API request did not carry a JSON content type.</summary>
    NotJson,
    /// <summary>A signed-in user asked for another user's tool or an app they may not open.</summary>
    WrongUser,
    /// <summary>The identity presented was missing, unsigned, expired or forged.</summary>
    ForgedIdentity,
    /// <summary>A session was used from another IP group than the one it signed in from.</summary>
    IpGroupChanged,
    /// <summary>The user has been deactivated, or the identity provider no longer knows them.</summary>
    Deactivated,
    /// <summary>A path that tries to leave its root (<c>..</c>, backslashes).</summary>
    UnsafePath,
    /// <summary>A service-to-service call without the right service credentials.</summary>
    ServiceCredentials,
    /// <summary>A tool's S3 request that its credentials' policy does not allow, or credentials not issued to a tool.</summary>
    StorageAccess,
    /// <summary>A personal API token that is malformed, unknown, expired or revoked, or sent where tokens are not taken.</summary>
    ApiToken,
}

/// <summary>
/// Every refusal for a security reason goes through here, so each is logged with its reason and counted in
/// <c>dataworkspace.security.refusals</c> (tags: reason), whichever service and feature refused it.
/// </summary>
public sealed class SecurityRefusals
{
    public const string MeterName = "DataWorkspace.Security";
    private readonly Counter<long> refusals;
    private readonly ILogger logger;

    public SecurityRefusals(IMeterFactory meters, ILogger<SecurityRefusals> logger)
    {
        this.logger = logger;
        refusals = meters.Create(MeterName).CreateCounter<long>("dataworkspace.security.refusals", "{request}",
            "Requests refused for a security reason, by reason.");
    }

    public void Record(HttpContext context, RefusalReason reason, string detail)
    {
        refusals.Add(1, new KeyValuePair<string, object?>("reason", TagOf(reason)));
        logger.LogWarning("Refused {Method} {Host}{Path} from {Peer}: {Reason}: {Detail}", context.Request.Method, context.Request.Host.Value,
            context.Request.Path.Value, context.Connection.RemoteIpAddress, TagOf(reason), detail);
    }

    /// <summary>A refusal outside any request: a background check ending a session the identity provider no longer accepts.</summary>
    public void Record(RefusalReason reason, string detail)
    {
        refusals.Add(1, new KeyValuePair<string, object?>("reason", TagOf(reason)));
        logger.LogWarning("Refused {Reason}: {Detail}", TagOf(reason), detail);
    }

    /// <summary>The reason as it appears in the metric and the log: <c>foreign_origin</c>, <c>allow_list</c>...</summary>
    public static string TagOf(RefusalReason reason) => reason switch
    {
        RefusalReason.ClientAddress => "client_address",
        RefusalReason.AllowList => "allow_list",
        RefusalReason.ForeignOrigin => "foreign_origin",
        RefusalReason.NotJson => "not_json",
        RefusalReason.WrongUser => "wrong_user",
        RefusalReason.ForgedIdentity => "forged_identity",
        RefusalReason.IpGroupChanged => "ip_group_changed",
        RefusalReason.Deactivated => "deactivated",
        RefusalReason.UnsafePath => "unsafe_path",
        RefusalReason.ServiceCredentials => "service_credentials",
        RefusalReason.StorageAccess => "storage_access",
        RefusalReason.ApiToken => "api_token",
        _ => reason.ToString(),
    };
}
