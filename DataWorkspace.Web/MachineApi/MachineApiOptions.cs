using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.MachineApi;

/// <summary>The systems allowed to call the machine API, each with its own shared key, and how much clock drift to accept.</summary>
public sealed class MachineApiOptions
{
    public const string Section = "MachineApi";
    public const int MinimumKeyBytes = 32;

    /// <summary>By client id (the Hawk <c>id</c> attribute), as <c>MachineApi:Clients:&lt;id&gt;:Key</c> and <c>:Email</c>.</summary>
    public Dictionary<string, MachineClient> Clients { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How far a request's timestamp may be from the server's clock; nonces are remembered for twice this.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(60);
}

public sealed class MachineClient
{
    /// <summary>Base64 of at least <see cref="MachineApiOptions.MinimumKeyBytes"/> random bytes, shared with the client only.</summary>
    public string Key { get; set; } = "";

    /// <summary>The client's service identity: its domain can grant access to restricted datasets, as for a user.</summary>
    public string Email { get; set; } = "";

    internal byte[] KeyBytes => Convert.FromBase64String(Key);
}

/// <summary>Fails start-up on a client whose key is too short or not base64, naming the setting to fix.</summary>
public sealed class MachineApiOptionsValidation : IValidateOptions<MachineApiOptions>
{
    public ValidateOptionsResult Validate(string? name, MachineApiOptions options)
    {
        var failures = new List<string>();
        if (options.ClockSkew <= TimeSpan.Zero || options.ClockSkew > TimeSpan.FromMinutes(15))
            failures.Add("MachineApi:ClockSkew must be between 00:00:01 and 00:15:00.");

        foreach (var (id, client) in options.Clients)
        {
            if (id.Length == 0 || id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
                failures.Add($"MachineApi:Clients:{id}: a client id may use only letters, digits, '-', '_' and '.'.");
            if (!IsLongEnoughBase64(client.Key))
                failures.Add($"MachineApi:Clients:{id}:Key must be base64 of at least {MachineApiOptions.MinimumKeyBytes} random bytes (for example: openssl rand -base64 32).");
            if (!client.Email.Contains('@'))
                failures.Add($"MachineApi:Clients:{id}:Email must be the client's service identity email address.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsLongEnoughBase64(string key)
    {
        var buffer = new byte[key.Length];
        return Convert.TryFromBase64String(key, buffer, out var written) && written >= MachineApiOptions.MinimumKeyBytes;
    }
}
