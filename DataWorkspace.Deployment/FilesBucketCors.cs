namespace DataWorkspace.Deployment;

/// <summary>
/// The files bucket's CORS rule for the "Your files" page: presigned GET, POST (whole files as forms), PUT (parts of
/// large ones) and HEAD from the portal's origins, with the ETag readable. The web app sets it at start; the published
/// template declares it.
/// </summary>
public static class FilesBucketCors
{
    /// <summary>The id of the platform's own rule, so that rules others set on the bucket stay.</summary>
    public const string RuleId = "dataworkspace-files";

    public static readonly IReadOnlyList<string> AllowedMethods = ["GET", "POST", "PUT", "HEAD"];
    public static readonly IReadOnlyList<string> AllowedHeaders = ["*"];
    public static readonly IReadOnlyList<string> ExposedHeaders = ["ETag"];
    public const int MaxAgeSeconds = 3000;
}
