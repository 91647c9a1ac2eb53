using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;

namespace DataWorkspace.Web.Storage;

/// <summary>
/// What a path-style S3 request needs from its credentials' policy: the operation it is and each action on each
/// resource (with the condition keys IAM gives it), as AWS's documentation of each operation's permissions says.
/// <see cref="Unsupported"/> names a request that is none of the operations read here: it is refused whatever the
/// policy says, as nothing in a tool's policy allows it.
/// </summary>
public sealed record S3Permissions(string Operation, IReadOnlyList<AccessCheck> Checks, string? Unsupported = null)
{
    /// <summary>The most a DeleteObjects body may be (1,000 keys of 1,024 bytes each, in XML).</summary>
    public const int MaxDeleteBody = 2 * 1024 * 1024;

    private static readonly string[] ListObjectsParameters =
        ["list-type", "prefix", "delimiter", "marker", "max-keys", "encoding-type", "continuation-token", "start-after", "fetch-owner"];
    private static readonly string[] ListVersionsParameters = ["versions", "prefix", "delimiter", "key-marker", "version-id-marker", "max-keys", "encoding-type"];
    private static readonly string[] ListUploadsParameters = ["uploads", "prefix", "delimiter", "key-marker", "upload-id-marker", "max-uploads", "encoding-type"];
    private static readonly string[] GetObjectParameters =
        ["versionId", "partNumber", "response-cache-control", "response-content-disposition", "response-content-encoding",
         "response-content-language", "response-content-type", "response-expires"];
    private static readonly string[] ListPartsParameters = ["uploadId", "max-parts", "part-number-marker", "encoding-type"];

    /// <summary>Query parameters that sign or label a request without changing what it does.</summary>
    private static readonly HashSet<string> SigningParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        "x-id", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
        "X-Amz-Security-Token", "AWSAccessKeyId", "Signature", "Expires",
    };

    /// <summary>Whether the request is a DeleteObjects, whose keys are in its body.</summary>
    public static bool IsDeleteObjects(string method, string path, IReadOnlyDictionary<string, StringValues> query) =>
        HttpMethods.IsPost(method) && Split(path) is { Bucket: not null, Key: "" } && query.ContainsKey("delete");

    public static IReadOnlyDictionary<string, StringValues> Query(string rawQuery) => QueryHelpers.ParseQuery(rawQuery);

    /// <param name="path">The request's path as sent, still percent-encoded.</param>
    /// <param name="deleteBody">A DeleteObjects request's body.</param>
    public static S3Permissions Of(string method, string path, IReadOnlyDictionary<string, StringValues> query, IHeaderDictionary headers, string? deleteBody = null)
    {
        var parameters = query.Keys.Where(name => !SigningParameters.Contains(name)).ToHashSet(StringComparer.Ordinal);
        bool Only(params string[] allowed) => parameters.All(allowed.Contains);
        var request = $"{method} {(parameters.Count > 0 ? "?" + string.Join('&', parameters.Order(StringComparer.Ordinal)) : "")}".TrimEnd();
        if (query.Values.Any(values => values.Count > 1)) return Refuse(request, "a query parameter given more than once");
        if (Split(path) is not { } parts) return Refuse(request, "a path that is not /<bucket>/<key>");
        var (bucket, key) = parts;
        if (bucket is null)
            return HttpMethods.IsGet(method) && parameters.Count == 0 ? new("ListBuckets", [new("s3:ListAllMyBuckets", "*")]) : Refuse(request, "a request for no bucket");
        if (!IsBucketName(bucket)) return Refuse(request, $"the bucket name '{bucket}'");
        if (HasDotSegment(key)) return Refuse(request, $"the key '{key}', which has a . or .. segment");

        var bucketArn = $"arn:aws:s3:::{bucket}";
        var objectArn = $"{bucketArn}/{key}";
        if (key.Length == 0)
        {
            if (HttpMethods.IsGet(method) && parameters.Contains("versions") && Only(ListVersionsParameters))
                return new("ListObjectVersions", [new("s3:ListBucketVersions", bucketArn, ListKeys(query))]);
            if (HttpMethods.IsGet(method) && parameters.Contains("uploads") && Only(ListUploadsParameters))
                return new("ListMultipartUploads", [new("s3:ListBucketMultipartUploads", bucketArn, ListKeys(query))]);
            if (HttpMethods.IsGet(method) && parameters.SetEquals(["location"])) return new("GetBucketLocation", [new("s3:GetBucketLocation", bucketArn)]);
            if (HttpMethods.IsGet(method) && Only(ListObjectsParameters)) return new("ListObjects", [new("s3:ListBucket", bucketArn, ListKeys(query))]);
            if (HttpMethods.IsHead(method) && parameters.Count == 0) return new("HeadBucket", [new("s3:ListBucket", bucketArn)]);
            if (HttpMethods.IsPost(method) && parameters.SetEquals(["delete"]))
                return DeletedObjects(deleteBody) is { } deleted
                    ? new("DeleteObjects", [.. deleted.Select(o => new AccessCheck(o.VersionId is null ? "s3:DeleteObject" : "s3:DeleteObjectVersion", $"{bucketArn}/{o.Key}"))])
                    : Refuse(request, "a DeleteObjects body that is not a Delete element of Object keys");
            return Refuse(request, "this request of a bucket");
        }

        if (HttpMethods.IsGet(method) && parameters.Contains("uploadId") && Only(ListPartsParameters))
            return new("ListParts", [new("s3:ListMultipartUploadParts", objectArn)]);
        if ((HttpMethods.IsGet(method) || HttpMethods.IsHead(method)) && Only(GetObjectParameters))
            return new(HttpMethods.IsGet(method) ? "GetObject" : "HeadObject", [new(parameters.Contains("versionId") ? "s3:GetObjectVersion" : "s3:GetObject", objectArn)]);
        if (HttpMethods.IsPut(method) && (parameters.Count == 0 || parameters.SetEquals(["partNumber", "uploadId"])))
        {
            var part = parameters.Count > 0;
            List<AccessCheck> checks = [new("s3:PutObject", objectArn)];
            if (headers["x-amz-copy-source"].ToString() is { Length: > 0 } source)
            {
                if (CopySource(source) is not { } read) return Refuse(request, $"the copy source '{source}'");
                checks.Add(read);
            }

            if (!part) checks.AddRange(ObjectSettings(headers, objectArn));
            var operation = (part, headers.ContainsKey("x-amz-copy-source")) switch
            {
                (true, true) => "UploadPartCopy",
                (true, false) => "UploadPart",
                (false, true) => "CopyObject",
                _ => "PutObject",
            };
            return new(operation, checks);
        }

        if (HttpMethods.IsPost(method) && parameters.SetEquals(["uploads"]))
            return new("CreateMultipartUpload", [new("s3:PutObject", objectArn), .. ObjectSettings(headers, objectArn)]);
        if (HttpMethods.IsPost(method) && parameters.SetEquals(["uploadId"])) return new("CompleteMultipartUpload", [new("s3:PutObject", objectArn)]);
        if (HttpMethods.IsDelete(method) && parameters.Count == 0) return new("DeleteObject", [new("s3:DeleteObject", objectArn)]);
        if (HttpMethods.IsDelete(method) && parameters.SetEquals(["versionId"])) return new("DeleteObject", [new("s3:DeleteObjectVersion", objectArn)]);
        if (HttpMethods.IsDelete(method) && parameters.SetEquals(["uploadId"])) return new("AbortMultipartUpload", [new("s3:AbortMultipartUpload", objectArn)]);
        return Refuse(request, "this request of an object");
    }

    private static S3Permissions Refuse(string request, string what) => new(request, [], $"{request}: {what}");

    /// <summary>The bucket and key of a path-style path (<c>/bucket/key</c>), decoded; a null bucket for <c>/</c>.</summary>
    private static (string? Bucket, string Key)? Split(string path)
    {
        if (!path.StartsWith('/')) return null;
        if (path == "/") return (null, "");
        var rest = path[1..];
        var slash = rest.IndexOf('/');
        var (bucket, key) = slash < 0 ? (rest, "") : (rest[..slash], rest[(slash + 1)..]);
        try
        {
            return (Uri.UnescapeDataString(bucket), Uri.UnescapeDataString(key));
        }
        catch (UriFormatException)
        {
            return null;
        }
    }

    /// <summary>S3's rules for a bucket's name: 3-63 lowercase letters, digits, dots and hyphens, a letter or digit at each end.</summary>
    private static bool IsBucketName(string name) =>
        name.Length is >= 3 and <= 63 && name.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '.' or '-')
        && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1]);

    /// <summary>Keys that a server or client might resolve to another key (<c>home/me/../you/x</c>) are not let through.</summary>
    private static bool HasDotSegment(string key) => key.Split('/').Any(segment => segment is "." or "..");

    /// <summary>ListBucket's condition keys: what the request gives of <c>s3:prefix</c>, <c>s3:delimiter</c> and <c>s3:max-keys</c>.</summary>
    private static Dictionary<string, string> ListKeys(IReadOnlyDictionary<string, StringValues> query)
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in new[] { "prefix", "delimiter", "max-keys" })
            if (query.TryGetValue(name, out var value)) keys["s3:" + name] = value.ToString();
        return keys;
    }

    /// <summary>
    /// Reading the source of a copy: <c>x-amz-copy-source</c> is <c>[/]bucket/key[?versionId=...]</c>, percent-encoded;
    /// null for anything else (an access point's ARN, no key).
    /// </summary>
    private static AccessCheck? CopySource(string value)
    {
        var question = value.IndexOf('?');
        var (path, version) = question < 0 ? (value, null) : (value[..question], value[(question + 1)..]);
        if (version is not null && !version.StartsWith("versionId=", StringComparison.Ordinal)) return null;
        if (Split(path.StartsWith('/') ? path : "/" + path) is not ({ } bucket, { Length: > 0 } key) || !IsBucketName(bucket) || HasDotSegment(key)) return null;
        return new(version is null ? "s3:GetObject" : "s3:GetObjectVersion", $"arn:aws:s3:::{bucket}/{key}");
    }

    /// <summary>Headers with which writing an object also sets its ACL, tags or lock, each a permission of its own.</summary>
    private static IEnumerable<AccessCheck> ObjectSettings(IHeaderDictionary headers, string objectArn)
    {
        if (headers.ContainsKey("x-amz-acl") || headers.Keys.Any(h => h.StartsWith("x-amz-grant-", StringComparison.OrdinalIgnoreCase)))
            yield return new("s3:PutObjectAcl", objectArn);
        if (headers.ContainsKey("x-amz-tagging")) yield return new("s3:PutObjectTagging", objectArn);
        if (headers.ContainsKey("x-amz-object-lock-mode") || headers.ContainsKey("x-amz-object-lock-retain-until-date"))
            yield return new("s3:PutObjectRetention", objectArn);
        if (headers.ContainsKey("x-amz-object-lock-legal-hold")) yield return new("s3:PutObjectLegalHold", objectArn);
    }

    /// <summary>The keys (and versions) a DeleteObjects body names; null when it is not such a body.</summary>
    private static List<(string Key, string? VersionId)>? DeletedObjects(string? body)
    {
        if (string.IsNullOrEmpty(body)) return null;
        try
        {
            using var reader = XmlReader.Create(new StringReader(body), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            var root = XDocument.Load(reader).Root;
            if (root?.Name.LocalName != "Delete") return null;
            var objects = root.Elements().Where(e => e.Name.LocalName == "Object").ToList();
            var deleted = objects.Select(o => (Key: o.Elements().FirstOrDefault(e => e.Name.LocalName == "Key")?.Value,
                VersionId: o.Elements().FirstOrDefault(e => e.Name.LocalName == "VersionId")?.Value)).ToList();
            if (deleted.Any(o => o.Key is null || HasDotSegment(o.Key))) return null;
            return [.. deleted.Select(o => (o.Key!, o.VersionId))];
        }
        catch (XmlException)
        {
            return null;
        }
    }

    /// <summary>A presigned request's expiry, from SigV4's X-Amz-Date and X-Amz-Expires or SigV2's Expires.</summary>
    internal static DateTimeOffset? PresignedUntil(IReadOnlyDictionary<string, StringValues> query)
    {
        if (query.TryGetValue("X-Amz-Date", out var date) && query.TryGetValue("X-Amz-Expires", out var seconds)
            && DateTimeOffset.TryParseExact(date.ToString(), "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signed)
            && long.TryParse(seconds.ToString(), CultureInfo.InvariantCulture, out var lifetime))
            return signed.AddSeconds(lifetime);
        if (query.TryGetValue("Expires", out var expires) && long.TryParse(expires.ToString(), CultureInfo.InvariantCulture, out var epoch))
            return DateTimeOffset.FromUnixTimeSeconds(epoch);
        return null;
    }
}
