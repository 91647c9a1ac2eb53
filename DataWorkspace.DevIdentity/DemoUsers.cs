using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace DataWorkspace.DevIdentity;

/// <summary>Whether the provider still accepts a demo user, as a real one would after someone leaves.</summary>
public enum DemoUserStatus
{
    Active,

    /// <summary>Known but disabled: no sign-in, and its refresh tokens and access tokens are refused.</summary>
    Disabled,

    /// <summary>No longer known at all: as for a disabled user, and the sign-in page does not know the email either.</summary>
    Removed,
}

/// <summary>
/// The demo users and whether each is active, disabled or removed (the <c>/users</c> page changes it). Kept in
/// <c>DevIdentity:StateDirectory</c> when set, so a local run's leavers stay gone across restarts.
/// </summary>
public sealed class DemoUsers
{
    private const string FileName = "demo-user-status.json";

    private readonly IOptions<DevIdentityOptions> options;
    private readonly ILogger<DemoUsers> logger;
    private readonly string? file;
    private readonly ConcurrentDictionary<string, DemoUserStatus> statuses = new(StringComparer.Ordinal);
    private readonly Lock saving = new();
    private static readonly JsonSerializerOptions Json = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    public DemoUsers(IOptions<DevIdentityOptions> options, ILogger<DemoUsers> logger)
    {
        this.options = options;
        this.logger = logger;
        if (options.Value.StateDirectory is { Length: > 0 } directory)
        {
            file = Path.Combine(directory, FileName);
            if (File.Exists(file))
                foreach (var (id, status) in JsonSerializer.Deserialize<Dictionary<string, DemoUserStatus>>(File.ReadAllText(file), Json) ?? [])
                    statuses[id] = status;
        }
    }

    public IReadOnlyList<DemoUser> All => options.Value.Users;

    public IEnumerable<DemoUser> Active => All.Where(user => StatusOf(user) == DemoUserStatus.Active);

    public DemoUserStatus StatusOf(DemoUser user) => statuses.GetValueOrDefault(user.Id, DemoUserStatus.Active);

    /// <summary>The active user with this <c>sub</c>, or null: one the provider no longer accepts is as good as unknown.</summary>
    public DemoUser? ActiveById(string? id) => All.FirstOrDefault(user => user.Id == id && StatusOf(user) == DemoUserStatus.Active);

    /// <summary>The user with this email, unless removed (a disabled user is still known, to say so).</summary>
    public DemoUser? KnownByEmail(string? email) =>
        options.Value.FindUser(email) is { } user && StatusOf(user) != DemoUserStatus.Removed ? user : null;

    public void Set(DemoUser user, DemoUserStatus status)
    {
        statuses[user.Id] = status;
        logger.LogInformation("Demo user {Email} is now {Status}", user.Email, status);
        if (file is null) return;
        lock (saving)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var written = file + ".new";
            File.WriteAllText(written, JsonSerializer.Serialize(statuses.Where(s => s.Value != DemoUserStatus.Active).ToDictionary(), Json));
            File.Move(written, file, overwrite: true);
        }
    }
}
