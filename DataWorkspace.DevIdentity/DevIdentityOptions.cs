using System.ComponentModel.DataAnnotations;

namespace DataWorkspace.DevIdentity;

/// <summary>The demo users and the relying parties of the local OpenID Connect provider.</summary>
public sealed class DevIdentityOptions
{
    public const string Section = "DevIdentity";

    [MinLength(1, ErrorMessage = "DevIdentity:Users must list at least one demo user.")]
    public List<DemoUser> Users { get; set; } = [];

    [MinLength(1, ErrorMessage = "DevIdentity:Clients must list at least one client (the proxy).")]
    public List<ClientRegistration> Clients { get; set; } = [];

    /// <summary>
    /// Where the provider keeps what must survive a restart (its keys, which demo users are disabled or removed); when
    /// empty, nothing is kept.
    /// </summary>
    public string? StateDirectory { get; set; }

    public DemoUser? FindUser(string? email) =>
        Users.FirstOrDefault(user => string.Equals(user.Email, email?.Trim(), StringComparison.OrdinalIgnoreCase));
}

public sealed class DemoUser
{
    /// <summary>The stable <c>sub</c> claim: user hashes, schemas and S3 prefixes derive from it.</summary>
    [Required] public string Id { get; set; } = "";
    [Required, EmailAddress] public string Email { get; set; } = "";
    [Required] public string FirstName { get; set; } = "";
    [Required] public string LastName { get; set; } = "";
    public string Description { get; set; } = "";
    public List<string> Roles { get; set; } = [];

    public string Name => $"{FirstName} {LastName}";
}

public sealed class ClientRegistration
{
    [Required] public string ClientId { get; set; } = "";
    [Required] public string ClientSecret { get; set; } = "";
    public string DisplayName { get; set; } = "";
    [MinLength(1)] public List<string> RedirectUris { get; set; } = [];
    public List<string> PostLogoutRedirectUris { get; set; } = [];
}
