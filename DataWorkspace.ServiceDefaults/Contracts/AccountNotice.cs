using System.Text.Json;
using System.Text.Json.Serialization;

namespace DataWorkspace.Contracts;

/// <summary>What changed about a user's account or one of their sessions.</summary>
public enum AccountChange
{
    /// <summary>An administrator deactivated the user (the web app tells): the proxy ends their sessions, and nothing of theirs may be used.</summary>
    Deactivated,

    /// <summary>An administrator reactivated the user: they may sign in again.</summary>
    Reactivated,

    /// <summary>One session ended (the proxy tells): signed out, or no longer accepted by the identity provider.</summary>
    SessionEnded,
}

/// <summary>
/// A change that every replica of the web app and of the proxy must hear at once, sent with PostgreSQL's NOTIFY on the
/// catalogue database's <see cref="Channel"/> (by <c>DataWorkspace.Accounts.AccountNotices</c>, the one sender). Sent
/// inside the transaction of the change, it is delivered only if that commits.
/// </summary>
public sealed record AccountNotice(AccountChange Change, string? UserId = null, string? SessionKey = null)
{
    public const string Channel = "dataworkspace_accounts";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    public string ToPayload() => JsonSerializer.Serialize(this, Json);

    /// <summary>The notice in a NOTIFY payload, or null when the payload is not one.</summary>
    public static AccountNotice? FromPayload(string payload)
    {
        try
        {
            return JsonSerializer.Deserialize<AccountNotice>(payload, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
