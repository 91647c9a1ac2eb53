using Amazon;
using Amazon.S3;
using Amazon.S3.Model;
using DataWorkspace.Web.Storage;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Files;

/// <summary>One object in the files bucket, as a listing gives it.</summary>
public sealed record StoredObject(string Key, long Size, DateTimeOffset? LastModified);

/// <summary>
/// The web app's S3 calls for the "Your files" page, with its own credentials, on keys <see cref="FileKeys"/> has
/// already checked; and presigned URLs for the browser, which sends and fetches the bytes itself. The URLs point where
/// the browser reaches S3: the emulator's own address (<c>Aws:ServiceUrl</c>, path style) locally, S3's
/// virtual-hosted endpoint of the bucket deployed.
/// </summary>
public sealed class FilesBucketClient(IOptions<StorageOptions> options, IConfiguration configuration, TimeProvider time) : IDisposable
{
    /// <summary>The largest object one CopyObject copies; larger ones are copied in parts.</summary>
    private const long CopyObjectLimit = 5L * 1024 * 1024 * 1024;

    private readonly string? emulator = configuration["Aws:ServiceUrl"] is { Length: > 0 } url ? url : null;

    private readonly Lazy<AmazonS3Client> s3 = new(() =>
    {
        var region = StorageOptions.Region(configuration);
        var config = new AmazonS3Config { Timeout = TimeSpan.FromSeconds(30), MaxErrorRetry = 2 };
        if (configuration["Aws:ServiceUrl"] is { Length: > 0 } emulatorUrl) (config.ServiceURL, config.ForcePathStyle, config.AuthenticationRegion) = (emulatorUrl, true, region);
        else config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        return new AmazonS3Client(PlatformAwsCredentials.Instance, config);
    });

    /// <summary>
    /// One client per address the browser is sent to (<c>Storage:BrowserEndpoints</c>; the web app's own when none):
    /// a presigned URL's signature covers its host, so each address signs its own.
    /// </summary>
    private readonly Lazy<AmazonS3Client>[] browser = BrowserClients(options.Value, configuration);

    private Lazy<AmazonS3Client>[]? browserOrDefault;

    private readonly string?[] postUrls = new string?[Math.Max(1, options.Value.BrowserEndpoints.Count)];

    private static Lazy<AmazonS3Client>[] BrowserClients(StorageOptions storage, IConfiguration configuration) =>
        [.. storage.BrowserEndpoints.Select(endpoint => new Lazy<AmazonS3Client>(() =>
        {
            var region = StorageOptions.Region(configuration);
            // The emulator answers path-style requests; S3's own endpoints put the bucket in the host name.
            var config = new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = configuration["Aws:ServiceUrl"] is { Length: > 0 }, AuthenticationRegion = region };
            return new AmazonS3Client(PlatformAwsCredentials.Instance, config);
        }))];

    private Lazy<AmazonS3Client>[] Browser => browserOrDefault ??= browser.Length > 0 ? browser : [s3];

    /// <summary>How many addresses of the bucket the browser spreads its uploads over.</summary>
    public int BrowserEndpointCount => Browser.Length;

    public string Bucket => options.Value.Bucket;

    public bool IsConfigured => options.Value.IsConfigured;

    /// <summary>A presigned URL for one request on <paramref name="key"/>, valid for <paramref name="lifetime"/>.</summary>
    public Task<string> PresignAsync(string key, HttpVerb verb, TimeSpan lifetime, Action<GetPreSignedUrlRequest>? more = null, int endpoint = 0)
    {
        var request = new GetPreSignedUrlRequest
        {
            BucketName = Bucket,
            Key = key,
            Verb = verb,
            Expires = time.GetUtcNow().UtcDateTime.Add(lifetime),
            // The SDK writes https unless told: the emulator answers plain http.
            Protocol = emulator is not null && emulator.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? Protocol.HTTP : Protocol.HTTPS,
        };
        more?.Invoke(request);
        return Browser[endpoint % Browser.Length].Value.GetPreSignedURLAsync(request);
    }

    /// <summary>
    /// A presigned POST (S3's browser upload form) for exactly <paramref name="key"/>, <paramref name="size"/> bytes and
    /// <paramref name="contentType"/>: the policy pins all three. Sent as multipart/form-data without custom headers it is
    /// a CORS simple request, so the browser needs no preflight for it.
    /// </summary>
    public Task<CreatePresignedPostResponse> PresignPostAsync(string key, long size, string contentType, TimeSpan lifetime)
    {
        var request = new CreatePresignedPostRequest { BucketName = Bucket, Key = key, Expires = time.GetUtcNow().UtcDateTime.Add(lifetime) };
        request.Fields["Content-Type"] = contentType;
        request.Conditions.Add(S3PostCondition.ExactMatch("Content-Type", contentType));
        request.Conditions.Add(S3PostCondition.ContentLengthRange(size, size));
        return Browser[0].Value.CreatePresignedPostAsync(request);
    }

    /// <summary>
    /// The bucket's POST address at each browser endpoint. A form's signature covers its policy, not the host, so one
    /// form may go to any of them.
    /// </summary>
    public async Task<IReadOnlyList<string>> PostUrlsAsync()
    {
        for (var i = 0; i < postUrls.Length; i++)
            postUrls[i] ??= (await Browser[i].Value.CreatePresignedPostAsync(new CreatePresignedPostRequest
            {
                BucketName = Bucket, Key = "${filename}", Expires = time.GetUtcNow().UtcDateTime.AddMinutes(1),
            })).Url;
        return [.. postUrls!];
    }

    /// <summary>
    /// Which of <paramref name="keys"/> are in the bucket now, with their size: one listing per folder (starting just
    /// before its first wanted key) where several are wanted, a HEAD each where a folder has only a few or is so full
    /// that listing it would take more requests.
    /// </summary>
    public async Task<Dictionary<string, StoredObject>> ExistingAsync(IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        var found = new System.Collections.Concurrent.ConcurrentDictionary<string, StoredObject>(StringComparer.Ordinal);
        var folders = keys.Distinct(StringComparer.Ordinal).GroupBy(key => key[..(key.LastIndexOf('/') + 1)], StringComparer.Ordinal).ToList();
        await Parallel.ForEachAsync(folders, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (folder, token) =>
        {
            var wanted = folder.Order(Utf8Order.Instance).ToList();
            var unresolved = wanted;
            if (wanted.Count > HeadsRatherThanListing)
            {
                var set = new HashSet<string>(wanted, StringComparer.Ordinal);
                var last = wanted[^1];
                string? continuation = null, seen = null;
                // S3 lists in UTF-8 byte order; the wanted key shortened by a character sorts just before it.
                var startAfter = wanted[0][..^(char.IsLowSurrogate(wanted[0][^1]) ? 2 : 1)];
                // Pages about as long as the wanted keys are many: the keys of one upload lie side by side.
                var pageSize = Math.Min(1000, 2 * wanted.Count + 20);
                for (var pages = 0; pages < 2 + wanted.Count / 100; pages++)
                {
                    var page = await s3.Value.ListObjectsV2Async(new ListObjectsV2Request
                    {
                        BucketName = Bucket, Prefix = folder.Key, Delimiter = "/", MaxKeys = pageSize,
                        StartAfter = continuation is null ? startAfter : null, ContinuationToken = continuation,
                    }, token);
                    foreach (var item in page.S3Objects ?? [])
                        if (set.Contains(item.Key)) found[item.Key] = Stored(item);
                    seen = new[] { seen, page.S3Objects?.LastOrDefault()?.Key, page.CommonPrefixes?.LastOrDefault() }.Where(k => k is not null).Max(Utf8Order.Instance);
                    continuation = page.IsTruncated == true ? page.NextContinuationToken : null;
                    if (continuation is null || (seen is not null && Utf8Order.Instance.Compare(seen, last) >= 0)) break;
                }

                unresolved = continuation is null || seen is null ? [] : [.. wanted.Where(key => Utf8Order.Instance.Compare(key, seen) > 0)];
            }

            foreach (var key in unresolved)
                if (await HeadAsync(key, token) is { } head) found[key] = new StoredObject(key, head.Size, null);
        });
        return new Dictionary<string, StoredObject>(found, StringComparer.Ordinal);
    }

    /// <summary>Up to this many keys of one folder are looked up one by one; more, with one listing.</summary>
    private const int HeadsRatherThanListing = 3;

    /// <summary>One page of a folder: its files and, with <paramref name="delimited"/>, its sub-folders.</summary>
    public Task<ListObjectsV2Response> ListAsync(string prefix, string? continuation, int max, bool delimited, CancellationToken cancellationToken) =>
        s3.Value.ListObjectsV2Async(new ListObjectsV2Request
        {
            BucketName = Bucket,
            Prefix = prefix,
            Delimiter = delimited ? "/" : null,
            MaxKeys = max,
            ContinuationToken = string.IsNullOrEmpty(continuation) ? null : continuation,
        }, cancellationToken);

    /// <summary>Every object under <paramref name="prefix"/>, page by page.</summary>
    public async IAsyncEnumerable<StoredObject> EveryObjectAsync(string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? continuation = null;
        do
        {
            var page = await ListAsync(prefix, continuation, 1000, delimited: false, cancellationToken);
            foreach (var item in page.S3Objects ?? []) yield return Stored(item);
            continuation = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (continuation is not null);
    }

    public static StoredObject Stored(S3Object item) =>
        new(item.Key, item.Size ?? 0, item.LastModified is { } at ? new DateTimeOffset(at.ToUniversalTime(), TimeSpan.Zero) : null);

    /// <summary>Whether anything at all is under <paramref name="prefix"/> (a folder exists if any key is).</summary>
    public async Task<bool> AnyUnderAsync(string prefix, CancellationToken cancellationToken) =>
        ((await ListAsync(prefix, null, 1, delimited: false, cancellationToken)).S3Objects ?? []).Count > 0;

    /// <summary>The object's size and content type, or null when there is none.</summary>
    public async Task<(long Size, string ContentType)?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var head = await s3.Value.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = key }, cancellationToken);
            return (head.ContentLength, head.Headers.ContentType ?? "application/octet-stream");
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public Task PutEmptyAsync(string key, CancellationToken cancellationToken) =>
        s3.Value.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = key, ContentBody = "" }, cancellationToken);

    public async Task<string> StartMultipartAsync(string key, string contentType, CancellationToken cancellationToken) =>
        (await s3.Value.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = Bucket, Key = key, ContentType = contentType }, cancellationToken)).UploadId;

    /// <summary>
    /// Whether <paramref name="uploadId"/> is an upload in progress to exactly <paramref name="key"/>: S3 ties an upload
    /// to its key, but the emulator does not, so an upload id is never taken on trust with a key beside it.
    /// </summary>
    public async Task<bool> IsUploadToAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        string? keyMarker = null, uploadIdMarker = null;
        while (true)
        {
            var page = await s3.Value.ListMultipartUploadsAsync(new ListMultipartUploadsRequest
            {
                BucketName = Bucket, Prefix = key, KeyMarker = keyMarker, UploadIdMarker = uploadIdMarker,
            }, cancellationToken);
            if ((page.MultipartUploads ?? []).Any(u => u.Key == key && u.UploadId == uploadId)) return true;
            if (page.IsTruncated != true) return false;
            (keyMarker, uploadIdMarker) = (page.NextKeyMarker, page.NextUploadIdMarker);
        }
    }

    public async Task<List<PartDetail>> PartsAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        var parts = new List<PartDetail>();
        string? marker = null;
        while (true)
        {
            var page = await s3.Value.ListPartsAsync(new ListPartsRequest { BucketName = Bucket, Key = key, UploadId = uploadId, PartNumberMarker = marker }, cancellationToken);
            parts.AddRange(page.Parts ?? []);
            if (page.IsTruncated != true) return parts;
            marker = page.NextPartNumberMarker?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public Task CompleteMultipartAsync(string key, string uploadId, IEnumerable<PartETag> parts, CancellationToken cancellationToken) =>
        s3.Value.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId, PartETags = [.. parts] }, cancellationToken);

    public Task AbortMultipartAsync(string key, string uploadId, CancellationToken cancellationToken) =>
        s3.Value.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId }, cancellationToken);

    /// <summary>Deletes the keys, a thousand to a request; how many S3 deleted.</summary>
    public async Task<int> DeleteAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var deleted = 0;
        foreach (var batch in keys.Chunk(1000))
        {
            var response = await s3.Value.DeleteObjectsAsync(new DeleteObjectsRequest
            {
                BucketName = Bucket, Objects = [.. batch.Select(key => new KeyVersion { Key = key })], Quiet = false,
            }, cancellationToken);
            if (response.DeleteErrors is { Count: > 0 } errors)
                throw new AmazonS3Exception($"S3 did not delete {errors.Count} of them, the first {errors[0].Key}: {errors[0].Code} {errors[0].Message}");
            deleted += response.DeletedObjects?.Count ?? 0;
        }

        return deleted;
    }

    /// <summary>Copies one object within the bucket, in parts when it is larger than one CopyObject takes.</summary>
    public async Task CopyAsync(string from, string to, long size, CancellationToken cancellationToken)
    {
        if (size <= CopyObjectLimit)
        {
            await s3.Value.CopyObjectAsync(new CopyObjectRequest { SourceBucket = Bucket, SourceKey = from, DestinationBucket = Bucket, DestinationKey = to }, cancellationToken);
            return;
        }

        var head = await s3.Value.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = from }, cancellationToken);
        var uploadId = await StartMultipartAsync(to, head.Headers.ContentType ?? "application/octet-stream", cancellationToken);
        try
        {
            var partSize = FilePartSizes.PartSize(size, minimum: 512L * 1024 * 1024);
            var etags = new List<PartETag>();
            for (var (number, first) = (1, 0L); first < size; (number, first) = (number + 1, first + partSize))
            {
                var part = await s3.Value.CopyPartAsync(new CopyPartRequest
                {
                    SourceBucket = Bucket, SourceKey = from, DestinationBucket = Bucket, DestinationKey = to, UploadId = uploadId,
                    PartNumber = number, FirstByte = first, LastByte = Math.Min(first + partSize, size) - 1,
                }, cancellationToken);
                etags.Add(new PartETag(number, part.ETag));
            }

            await CompleteMultipartAsync(to, uploadId, etags, cancellationToken);
        }
        catch
        {
            await AbortMultipartAsync(to, uploadId, CancellationToken.None);
            throw;
        }
    }

    public void Dispose()
    {
        if (s3.IsValueCreated) s3.Value.Dispose();
        foreach (var client in browser)
            if (client.IsValueCreated) client.Value.Dispose();
    }
}

/// <summary>S3's order of keys: by their UTF-8 bytes (which differs from .NET's ordinal order only beyond U+D7FF).</summary>
public sealed class Utf8Order : IComparer<string?>
{
    public static readonly Utf8Order Instance = new();

    public int Compare(string? x, string? y)
    {
        if (x is null || y is null) return x is null ? (y is null ? 0 : -1) : 1;
        return ((ReadOnlySpan<byte>)System.Text.Encoding.UTF8.GetBytes(x)).SequenceCompareTo(System.Text.Encoding.UTF8.GetBytes(y));
    }
}

/// <summary>How a large file is cut into the parts of a multipart upload.</summary>
public static class FilePartSizes
{
    public const long MiB = 1024 * 1024;

    /// <summary>S3's most parts in one upload.</summary>
    public const int MaxParts = 10_000;

    /// <summary>
    /// At least <paramref name="minimum"/> (16 MiB unless given: few enough requests for a fast link), and large
    /// enough that the file fits in S3's 10,000 parts, rounded up to whole MiB.
    /// </summary>
    public static long PartSize(long size, long minimum = 16 * MiB)
    {
        var fitting = (size + MaxParts - 1) / MaxParts;
        fitting = (fitting + MiB - 1) / MiB * MiB;
        return Math.Max(minimum, fitting);
    }

    public static int PartCount(long size, long partSize) => (int)Math.Max(1, (size + partSize - 1) / partSize);
}
