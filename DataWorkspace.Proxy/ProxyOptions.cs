using System.ComponentModel.DataAnnotations;

namespace DataWorkspace.Proxy;

public sealed class ProxyOptions : IValidatableObject
{
    public const string Section = "Proxy";

    /// <summary>The portal's host name; tools and visualisations are its subdomains.</summary>
    [Required(ErrorMessage = "Proxy:RootDomain is required (for example dataworkspace.localhost).")]
    [RegularExpression(@"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", ErrorMessage = "Proxy:RootDomain must be a lowercase host name without scheme or port.")]
    public string RootDomain { get; set; } = "";

    /// <summary>"https" when deployed (secure cookies, HSTS); "http" only for local runs.</summary>
    [RegularExpression("^https?$", ErrorMessage = "Proxy:PublicScheme must be http or https.")]
    public string PublicScheme { get; set; } = "https";

    /// <summary>Where the web app listens, as the proxy reaches it.</summary>
    [Required(ErrorMessage = "Proxy:WebUrl is required: the address of the web app behind the proxy.")]
    [Url(ErrorMessage = "Proxy:WebUrl must be an absolute URL.")]
    public string WebUrl { get; set; } = "";

    /// <summary>How many proxies in front of this one append to X-Forwarded-For (an AWS ALB is one; local runs none).</summary>
    [Range(0, 10, ErrorMessage = "Proxy:TrustedHops must be between 0 and 10.")]
    public int TrustedHops { get; set; }

    [Range(typeof(TimeSpan), "00:05:00", "7.00:00:00", ErrorMessage = "Proxy:SessionLifetime must be between 5 minutes and 7 days.")]
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(10);

    /// <summary>
    /// How often each session is checked with the identity provider (refresh token, or userinfo): a user it no longer
    /// knows or has disabled is signed out. A provider that does not answer signs nobody out.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Proxy:SessionCheckInterval must be between 1 second and 1 day.")]
    public TimeSpan SessionCheckInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often the proxy tells the web app which tools had traffic (for idle culling).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00", ErrorMessage = "Proxy:ActivityReportInterval must be between 0.1 seconds and 10 minutes.")]
    public TimeSpan ActivityReportInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Named groups of client addresses, as CIDR ranges: <c>Proxy:IpGroups:office:0 = 203.0.113.0/24</c>.</summary>
    public Dictionary<string, List<string>> IpGroups { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The addresses that reach tools, visualisations, the Data Explorer and file APIs: CIDR ranges or group names
    /// (comma-separated values work too). Empty means none: those parts are closed until the operator says who may.
    /// </summary>
    public List<string> IpAllowList { get; set; } = [];

    /// <summary>The portal paths the allow list guards (tool and visualisation hosts always are).</summary>
    public List<string> IpRestrictedPaths { get; set; } = ["/data-explorer", "/api/v1/explorer", "/files", "/api/v1/files"];

    /// <summary>
    /// The origin of the files bucket's S3 endpoint (<c>http://127.0.0.1:4566</c>, <c>https://files.s3.eu-west-2.amazonaws.com</c>),
    /// which the "Your files" page sends uploads to and reads previews from; empty when there is none.
    /// </summary>
    [RegularExpression(@"^https?://[^/?#\s]+$", ErrorMessage = "Proxy:FilesOrigin must be an origin: a scheme and a host, with a port if needed, and no path.")]
    public string FilesOrigin { get; set; } = "";

    /// <summary>
    /// More origins of the files bucket beside <see cref="FilesOrigin"/>: the page spreads its uploads over all of
    /// them (a second host name gives the browser six more connections), so each must be allowed.
    /// </summary>
    public List<string> FilesOrigins { get; set; } = [];

    /// <summary>Every origin of the files bucket, <see cref="FilesOrigin"/> first, each once.</summary>
    public IEnumerable<string> AllFilesOrigins => new[] { FilesOrigin }.Concat(FilesOrigins).Where(origin => origin.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase);

    private static readonly System.Text.RegularExpressions.Regex Origin = new(@"^https?://[^/?#\s]+$");

    public bool IsSecure => PublicScheme == "https";

    /// <summary>The origin of <paramref name="host"/> as the browser reached it (on <paramref name="port"/>, when it named one).</summary>
    public string OriginOf(string host, int? port) => $"{PublicScheme}://{host}{(port is { } p ? ":" + p : "")}";

    /// <summary>The portal's origin as the browser reached the proxy.</summary>
    public string PortalOrigin(int? port) => OriginOf(RootDomain, port);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        ClientAddress.IpPolicy.Problems(this).Select(problem => new ValidationResult(problem))
            .Concat(FilesOrigins.Where(origin => !Origin.IsMatch(origin)).Select(origin => new ValidationResult(
                $"Each of Proxy:FilesOrigins must be an origin: a scheme and a host, with a port if needed, and no path; not '{origin}'.")));
}

public sealed class OidcOptions
{
    public const string Section = "Oidc";

    [Required(ErrorMessage = "Oidc:Authority is required: the OpenID Connect issuer users sign in with.")]
    [Url(ErrorMessage = "Oidc:Authority must be an absolute URL.")]
    public string Authority { get; set; } = "";

    [Required(ErrorMessage = "Oidc:ClientId is required.")]
    public string ClientId { get; set; } = "";

    [Required(ErrorMessage = "Oidc:ClientSecret is required.")]
    public string ClientSecret { get; set; } = "";

    /// <summary>Only a local run against the development provider may turn this off.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>offline_access asks for a refresh token, with which each session is checked (see Proxy:SessionCheckInterval).</summary>
    public List<string> Scopes { get; set; } = ["openid", "profile", "email", "roles", "offline_access"];
}
