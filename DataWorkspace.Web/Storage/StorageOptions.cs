using System.ComponentModel.DataAnnotations;
using DataWorkspace.Contracts;

namespace DataWorkspace.Web.Storage;

/// <summary>Where users' files live in S3, and the role tools assume to reach them.</summary>
public sealed class StorageOptions : IValidatableObject
{
    public const string Section = "Storage";

    /// <summary>The bucket of home folders and team folders; tools get no S3 access while it is empty.</summary>
    public string Bucket { get; set; } = "";

    /// <summary>The role assumed for each tool, narrowed by a session policy to the user's own prefixes.</summary>
    public string ToolRoleArn { get; set; } = "arn:aws:iam::000000000000:role/dataworkspace-tools";

    /// <summary>
    /// How long each set of a tool's S3 credentials lasts (STS allows 15 minutes to 12 hours, the upper end for a role
    /// that permits it). Tools that renew them fetch a new set before this runs out.
    /// </summary>
    public TimeSpan CredentialLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// The origins whose pages reach the bucket from the browser (the portal's, for the "Your files" page): the
    /// bucket's CORS rules are set to these at every start. Empty leaves the bucket's CORS rules as they are.
    /// </summary>
    public List<string> BrowserOrigins { get; set; } = [];

    /// <summary>
    /// The S3 service addresses the browser sends uploads to, spread over all of them: a browser keeps at most six
    /// HTTP/1.1 connections to one host name. Locally the emulator under two names, deployed S3's regional and
    /// dual-stack endpoints; empty means the web app's own endpoint.
    /// </summary>
    public List<string> BrowserEndpoints { get; set; } = [];

    public bool IsConfigured => Bucket.Length > 0;

    /// <summary>The AWS region of the bucket, which tools are told to use too (<c>Aws:Region</c>).</summary>
    public static string Region(IConfiguration configuration) => configuration["Aws:Region"] is { Length: > 0 } configured ? configured : "eu-west-2";

    /// <summary>A user's home folder: <c>home/&lt;userhash8&gt;/</c>.</summary>
    public static string HomePrefix(string userId) => $"home/{UserHash.Of(userId)}/";

    /// <summary>A team's shared folder: <c>teams/&lt;slug&gt;/</c>.</summary>
    public static string TeamPrefix(string slug) => $"teams/{slug}/";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (CredentialLifetime < TimeSpan.FromMinutes(15) || CredentialLifetime > TimeSpan.FromHours(12))
            yield return new($"Storage:CredentialLifetime must be between 00:15:00 and 12:00:00 (what STS AssumeRole allows), not {CredentialLifetime}.");
        foreach (var origin in BrowserOrigins)
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.PathAndQuery != "/" || origin.EndsWith('/'))
                yield return new($"Each of Storage:BrowserOrigins must be an origin (scheme, host and port if any, no path or trailing slash), like https://dataworkspace.example.com, not '{origin}'.");
        foreach (var endpoint in BrowserEndpoints)
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.PathAndQuery != "/")
                yield return new($"Each of Storage:BrowserEndpoints must be an S3 service address (scheme, host and port if any, no path), like https://s3.dualstack.eu-west-2.amazonaws.com, not '{endpoint}'.");
    }
}
