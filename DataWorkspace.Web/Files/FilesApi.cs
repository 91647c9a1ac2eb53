using System.Text;
using System.Text.Json.Serialization;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using DataWorkspace.Contracts;
using DataWorkspace.Security;
using DataWorkspace.Web.ApiTokens;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Storage;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace DataWorkspace.Web.Files;

public sealed record FileRootsView(string Bucket, IReadOnlyList<FileRoot> Roots);

public sealed record FolderEntry(string Name, string Prefix);

public sealed record FileEntry(string Name, string Key, long Size, DateTimeOffset? LastModified);

public sealed record FileListing(string Prefix, IReadOnlyList<FolderEntry> Folders, IReadOnlyList<FileEntry> Files, string? Continuation);

/// <summary>What is under a folder: its files (not the 0-byte markers of folders), the folders themselves (it and every sub-folder, marked or not), and their bytes.</summary>
public sealed record FolderCount(string Prefix, long Files, long Folders, long Bytes);

public sealed record FolderRequest(string? Prefix);

public sealed record FolderCreated(string Prefix);

public sealed record UploadFile(string? Key, long? Size, string? ContentType);

public sealed record UploadsRequest(List<UploadFile>? Files);

/// <summary>One file's own form fields (its key, content type, policy and signature), sent after <see cref="PresignedUploads.Fields"/>.</summary>
public sealed record PresignedUpload(string Key, Dictionary<string, string> Fields);

/// <summary>
/// S3 POST forms: each file goes to <paramref name="Url"/> as multipart/form-data with <paramref name="Fields"/> (the
/// same for every file of this answer), then its own fields, then the file itself as the last field, <c>file</c>.
/// <paramref name="Urls"/> are the same bucket under each of its browser addresses (the first is <paramref name="Url"/>):
/// any form may go to any of them, so a browser can spread its uploads over more connections.
/// </summary>
public sealed record PresignedUploads(string Url, Dictionary<string, string> Fields, IReadOnlyList<PresignedUpload> Uploads, IReadOnlyList<string> Urls);

public sealed record ExistingRequest(List<string>? Keys);

public sealed record ExistingFile(string Key, long Size);

public sealed record ExistingFiles(IReadOnlyList<ExistingFile> Existing);

public sealed record UploadsDoneRequest(List<string>? Keys);

public sealed record UploadedFile(string Key, long Size);

public sealed record UploadedFiles(IReadOnlyList<UploadedFile> Files);

public sealed record MultipartRequest(string? Key, long? Size, string? ContentType);

/// <summary>A multipart upload begun; its part URLs alternate over the bucket's <paramref name="Endpoints"/> browser addresses.</summary>
public sealed record MultipartStarted(string Key, string UploadId, long PartSize, int PartCount, int Endpoints);

public sealed record PartUrlsRequest(string? Key, string? UploadId, List<int>? PartNumbers);

public sealed record PartUrls(Dictionary<string, string> Urls);

public sealed record UploadedPart(int PartNumber, [property: JsonPropertyName("etag")] string ETag, long Size);

public sealed record UploadedParts(IReadOnlyList<UploadedPart> Parts);

public sealed record CompletedPart(int? PartNumber, [property: JsonPropertyName("etag")] string? ETag);

public sealed record CompleteRequest(string? Key, string? UploadId, List<CompletedPart>? Parts);

public sealed record UploadRequest(string? Key, string? UploadId);

public sealed record UploadAborted(bool Aborted);

public sealed record FileRequest(string? Key);

public sealed record DownloadLink(string Url);

public sealed record PreviewLink(string Url, long Size, string ContentType);

public sealed record DeleteRequest(List<string>? Keys, List<string>? Prefixes);

/// <summary>How many objects S3 deleted, and of them how many were files and how many folders (a folder is counted once, marked or not).</summary>
public sealed record FilesDeleted(int Deleted, int Files, int Folders);

public sealed record MoveRequest(string? From, string? To);

public sealed record FilesMoved(int Moved);

/// <summary>Short-lived S3 credentials for the user's own prefixes, with where to use them (<c>Endpoint</c> null on real AWS).</summary>
public sealed record AwsCredentialsView(
    string AccessKeyId, string SecretAccessKey, string SessionToken, DateTimeOffset Expiration, string Bucket, string Region, string? Endpoint, IReadOnlyList<string> Prefixes);

/// <summary>
/// "Your files": the API of the page at /files and of scripts. The bytes never pass through here: each route checks
/// the keys it is given against the user's own roots (<see cref="FileKeys"/>) and then acts on S3 itself (list,
/// count, copy, delete) or hands back presigned URLs for the browser to send or fetch the bytes. Uploads, downloads,
/// deletes and moves go in the audit log. POSTs take JSON only.
/// </summary>
public static class FilesApi
{
    public const long SinglePutLimit = 64 * FilePartSizes.MiB;
    public const long MaxFileSize = 5L * 1024 * 1024 * 1024 * 1024;
    public const int MaxFilesPerCall = 1000;
    public static readonly TimeSpan UploadUrlLifetime = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan DownloadUrlLifetime = TimeSpan.FromMinutes(5);

    /// <summary>The fields of a presigned POST that differ from file to file.</summary>
    private static readonly HashSet<string> OwnFields = new(["key", "Content-Type", "Policy", "x-amz-signature"], StringComparer.OrdinalIgnoreCase);

    /// <summary>How long the credentials of <c>GET /api/v1/aws_credentials</c> last: the page fetches a new set before then.</summary>
    public static readonly TimeSpan CredentialLifetime = TimeSpan.FromHours(1);

    /// <summary>
    /// How long they last when asked for with a personal API token: STS's shortest, because a revoked or expired token
    /// cannot take back credentials it was given.
    /// </summary>
    public static readonly TimeSpan TokenCredentialLifetime = TimeSpan.FromMinutes(15);

    public static void MapFilesApi(this WebApplication app)
    {
        var api = app.MapGroup("/api/v1/files").RequireScope(ApiScopes.Files).AddEndpointFilter(AnswerRefusals)
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/roots", [EndpointSummary("Your file roots"), EndpointDescription("The bucket and the folders (your own, your teams') you may use in it.")] async Task<Ok<FileRootsView>> (HttpContext http, FilesBucketClient files, ToolCredentials credentials, CancellationToken cancellationToken) =>
            TypedResults.Ok(new FileRootsView(files.Bucket, FileKeys.RootsOf(await credentials.PrefixesAsync(http.User.Id(), cancellationToken)))));

        api.MapGet("/list", [EndpointSummary("List a folder"), EndpointDescription("One page of a folder's sub-folders and files; send the continuation token back for the next page.")] async Task<Ok<FileListing>> (string? prefix, string? continuation, int? max, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            CancellationToken cancellationToken) =>
        {
            var folder = FileKeys.Check(prefix, KeyKind.Folder, await RootsAsync(http, credentials, cancellationToken), rootAllowed: true, what: "prefix");
            if (max is < 1 or > 1000) throw Bad($"max is {max}: ask for 1 to 1000 entries a page.");
            if (continuation is { Length: > 2048 }) throw Bad("The continuation token is longer than any S3 gives: send back the one the last page answered, or none to start again.");
            var page = await files.ListAsync(folder, continuation, max ?? 1000, delimited: true, cancellationToken);
            var folders = (page.CommonPrefixes ?? []).Select(p => new FolderEntry(FileKeys.NameOf(p), p)).ToList();
            var entries = (page.S3Objects ?? []).Where(o => o.Key != folder).Select(FilesBucketClient.Stored)
                .Select(o => new FileEntry(FileKeys.NameOf(o.Key), o.Key, o.Size, o.LastModified)).ToList();
            return TypedResults.Ok(new FileListing(folder, folders, entries, page.IsTruncated == true ? page.NextContinuationToken : null));
        });

        api.MapGet("/count", [EndpointSummary("Count a folder"), EndpointDescription("How many files and folders a folder holds, and their total size, counted through every level.")] async Task<Ok<FolderCount>> (string? prefix, HttpContext http, FilesBucketClient files, ToolCredentials credentials, CancellationToken cancellationToken) =>
        {
            var folder = FileKeys.Check(prefix, KeyKind.Folder, await RootsAsync(http, credentials, cancellationToken), rootAllowed: true, what: "prefix");
            var contents = new FolderContents(folder);
            await foreach (var item in files.EveryObjectAsync(folder, cancellationToken)) contents.Add(item);
            return TypedResults.Ok(new FolderCount(folder, contents.Files, contents.Folders.Count, contents.Bytes));
        });

        api.MapPost("/folders", [EndpointSummary("Create a folder"), EndpointDescription("Makes an empty folder under one of your roots.")] async Task<Created<FolderCreated>> (FolderRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            CancellationToken cancellationToken) =>
        {
            var folder = FileKeys.Check(request.Prefix, KeyKind.Folder, await RootsAsync(http, credentials, cancellationToken), what: "prefix");
            await files.PutEmptyAsync(folder, cancellationToken);
            return TypedResults.Created((string?)null, new FolderCreated(folder));
        }).Accepts<FolderRequest>("application/json");

        api.MapPost("/uploads", [EndpointSummary("Start uploads"), EndpointDescription("Presigned S3 POST forms for up to a batch of files, each small enough for one request.")] async Task<Ok<PresignedUploads>> (UploadsRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            CancellationToken cancellationToken) =>
        {
            var roots = await RootsAsync(http, credentials, cancellationToken);
            var wanted = Many(request.Files, "files");
            var checkedFiles = new List<(string Key, long Size, string ContentType)>();
            foreach (var file in wanted)
            {
                if (file is null) throw Bad("One of the files is null: send { key, size, contentType } for each.");
                var key = FileKeys.Check(file.Key, KeyKind.File, roots);
                if (file.Size is not { } size || size < 0) throw Bad($"'{key}' has no size: send its size in bytes.");
                if (size > SinglePutLimit)
                    throw Bad($"'{key}' is {size:N0} bytes, more than {SinglePutLimit / FilePartSizes.MiB} MiB: use multipart (POST /api/v1/files/multipart) for it.");
                checkedFiles.Add((key, size, ContentTypeOf(file.ContentType, key)));
            }

            if (checkedFiles.GroupBy(f => f.Key, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw Bad($"'{twice.Key}' is in the list twice: send each file once.");
            var forms = new CreatePresignedPostResponse[checkedFiles.Count];
            for (var i = 0; i < forms.Length; i++) forms[i] = await files.PresignPostAsync(checkedFiles[i].Key, checkedFiles[i].Size, checkedFiles[i].ContentType, UploadUrlLifetime);
            // Credential, algorithm, date and session token are the same for the whole batch as a rule: sent once.
            var shared = forms[0].Fields.Where(field => !OwnFields.Contains(field.Key) && forms.All(form => form.Fields.TryGetValue(field.Key, out var value) && value == field.Value))
                .ToDictionary(field => field.Key, field => field.Value, StringComparer.Ordinal);
            var uploads = forms.Select((form, i) => new PresignedUpload(checkedFiles[i].Key,
                form.Fields.Where(field => !shared.ContainsKey(field.Key)).ToDictionary(field => field.Key, field => field.Value, StringComparer.Ordinal))).ToList();
            return TypedResults.Ok(new PresignedUploads(forms[0].Url, shared, uploads, await files.PostUrlsAsync()));
        }).Accepts<UploadsRequest>("application/json");

        api.MapPost("/uploads/existing", [EndpointSummary("Find files that already exist"), EndpointDescription("Which of the given keys are already in the bucket, so the page can ask before replacing them.")] async Task<Ok<ExistingFiles>> (ExistingRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            CancellationToken cancellationToken) =>
        {
            var roots = await RootsAsync(http, credentials, cancellationToken);
            var keys = Many(request.Keys, "keys").Select(key => FileKeys.Check(key, KeyKind.File, roots)).ToList();
            var existing = await files.ExistingAsync(keys, cancellationToken);
            return TypedResults.Ok(new ExistingFiles([.. keys.Distinct(StringComparer.Ordinal).Where(existing.ContainsKey).Select(key => new ExistingFile(key, existing[key].Size))]));
        }).Accepts<ExistingRequest>("application/json");

        api.MapPost("/uploads/done", [EndpointSummary("Confirm uploads"), EndpointDescription("Checks that the uploaded files arrived and gives their sizes.")] async Task<Ok<UploadedFiles>> (UploadsDoneRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            AuditLog audit, CatalogueDbContext catalogue, CancellationToken cancellationToken) =>
        {
            var roots = await RootsAsync(http, credentials, cancellationToken);
            var keys = Many(request.Keys, "keys").Select(key => FileKeys.Check(key, KeyKind.File, roots)).Distinct(StringComparer.Ordinal).ToList();
            var stored = await files.ExistingAsync(keys, cancellationToken);
            if (keys.FirstOrDefault(key => !stored.ContainsKey(key)) is { } missing)
                throw NotFound($"'{missing}' is not in the bucket: its upload did not finish. Upload it again, then call this.");
            var uploaded = keys.Select(key => new UploadedFile(key, stored[key].Size)).ToList();
            Audited(audit, http, AuditActions.FilesUploaded, "uploaded", uploaded);
            await catalogue.SaveChangesAsync(CancellationToken.None);
            return TypedResults.Ok(new UploadedFiles(uploaded));
        }).Accepts<UploadsDoneRequest>("application/json");

        api.MapPost("/multipart", [EndpointSummary("Start a multipart upload"), EndpointDescription("For a large file: an upload id, the part size and the number of parts.")] async Task<Ok<MultipartStarted>> (MultipartRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            CancellationToken cancellationToken) =>
        {
            var key = FileKeys.Check(request.Key, KeyKind.File, await RootsAsync(http, credentials, cancellationToken));
            if (request.Size is not { } size || size < 1) throw Bad($"Send the size of '{key}' in bytes (a 0-byte file goes with POST /api/v1/files/uploads).");
            if (size > MaxFileSize) throw Bad($"'{key}' is {size:N0} bytes: S3 takes files of at most 5 TiB.");
            var partSize = FilePartSizes.PartSize(size);
            var uploadId = await files.StartMultipartAsync(key, ContentTypeOf(request.ContentType, key), cancellationToken);
            return TypedResults.Ok(new MultipartStarted(key, uploadId, partSize, FilePartSizes.PartCount(size, partSize), files.BrowserEndpointCount));
        }).Accepts<MultipartRequest>("application/json");

        api.MapPost("/multipart/parts", [EndpointSummary("Presign parts"), EndpointDescription("Presigned URLs to upload the given parts of a multipart upload.")] async Task<Ok<PartUrls>> (PartUrlsRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            CancellationToken cancellationToken) =>
        {
            var (key, uploadId) = await UploadOfAsync(request.Key, request.UploadId, http, files, credentials, cancellationToken);
            var numbers = Many(request.PartNumbers, "partNumbers");
            if (numbers.Where(n => n is < 1 or > FilePartSizes.MaxParts).Select(n => (int?)n).FirstOrDefault() is { } wrong)
                throw Bad($"Part number {wrong} is out of range: parts are numbered 1 to {FilePartSizes.MaxParts}.");
            var urls = new Dictionary<string, string>();
            foreach (var number in numbers.Distinct())
                urls[number.ToString(System.Globalization.CultureInfo.InvariantCulture)] = await files.PresignAsync(key, HttpVerb.PUT, UploadUrlLifetime, r =>
                {
                    r.UploadId = uploadId;
                    r.PartNumber = number;
                }, endpoint: number);
            return TypedResults.Ok(new PartUrls(urls));
        }).Accepts<PartUrlsRequest>("application/json");

        api.MapGet("/multipart/parts", [EndpointSummary("List uploaded parts"), EndpointDescription("The parts of a multipart upload that S3 has, to resume it.")] async Task<Ok<UploadedParts>> (string? key, string? uploadId, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            CancellationToken cancellationToken) =>
        {
            var (checkedKey, id) = await UploadOfAsync(key, uploadId, http, files, credentials, cancellationToken);
            var parts = await files.PartsAsync(checkedKey, id, cancellationToken);
            return TypedResults.Ok(new UploadedParts([.. parts.Select(p => new UploadedPart(p.PartNumber ?? 0, p.ETag, p.Size ?? 0))]));
        });

        api.MapPost("/multipart/complete", [EndpointSummary("Complete a multipart upload"), EndpointDescription("Joins the uploaded parts into the file.")] async Task<Ok<UploadedFile>> (CompleteRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            AuditLog audit, CatalogueDbContext catalogue, CancellationToken cancellationToken) =>
        {
            var (key, uploadId) = await UploadOfAsync(request.Key, request.UploadId, http, files, credentials, cancellationToken);
            var parts = Many(request.Parts, "parts", FilePartSizes.MaxParts);
            if (parts.Any(p => p is null || p.PartNumber is not (>= 1 and <= FilePartSizes.MaxParts) || string.IsNullOrEmpty(p.ETag) || p.ETag.Length > 200))
                throw Bad($"Each part needs its partNumber (1 to {FilePartSizes.MaxParts}) and the etag S3 answered its upload with.");
            var ordered = parts.Select(p => new PartETag(p.PartNumber!.Value, p.ETag)).OrderBy(p => p.PartNumber).ToList();
            if (ordered.Select(p => p.PartNumber).Distinct().Count() != ordered.Count) throw Bad("A part number is in the list twice: send each part once.");
            await files.CompleteMultipartAsync(key, uploadId, ordered, cancellationToken);
            var size = (await files.HeadAsync(key, cancellationToken))?.Size ?? 0;
            var uploaded = new UploadedFile(key, size);
            Audited(audit, http, AuditActions.FilesUploaded, "uploaded", [uploaded]);
            await catalogue.SaveChangesAsync(CancellationToken.None);
            return TypedResults.Ok(uploaded);
        }).Accepts<CompleteRequest>("application/json");

        api.MapPost("/multipart/abort", [EndpointSummary("Abort a multipart upload"), EndpointDescription("Drops the parts uploaded so far.")] async Task<Ok<UploadAborted>> (UploadRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            CancellationToken cancellationToken) =>
        {
            var (key, uploadId) = await UploadOfAsync(request.Key, request.UploadId, http, files, credentials, cancellationToken);
            await files.AbortMultipartAsync(key, uploadId, cancellationToken);
            return TypedResults.Ok(new UploadAborted(true));
        }).Accepts<UploadRequest>("application/json");

        api.MapPost("/download", [EndpointSummary("Download a file"), EndpointDescription("A short-lived presigned URL that downloads the file.")] async Task<Ok<DownloadLink>> (FileRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            AuditLog audit, CatalogueDbContext catalogue, CancellationToken cancellationToken) =>
        {
            var key = FileKeys.Check(request.Key, KeyKind.File, await RootsAsync(http, credentials, cancellationToken));
            var head = await files.HeadAsync(key, cancellationToken) ?? throw NotFound($"There is no file '{key}'. List the folder again: it may have been moved or deleted.");
            var url = await files.PresignAsync(key, HttpVerb.GET, DownloadUrlLifetime, r => r.ResponseHeaderOverrides.ContentDisposition = FileKeys.Attachment(key));
            Audited(audit, http, AuditActions.FileDownloaded, "downloaded", [new UploadedFile(key, head.Size)]);
            await catalogue.SaveChangesAsync(CancellationToken.None);
            return TypedResults.Ok(new DownloadLink(url));
        }).Accepts<FileRequest>("application/json");

        api.MapPost("/preview", [EndpointSummary("Preview a file"), EndpointDescription("A short-lived presigned URL to show the file in the page, with its size and content type.")] async Task<Ok<PreviewLink>> (FileRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            CancellationToken cancellationToken) =>
        {
            var key = FileKeys.Check(request.Key, KeyKind.File, await RootsAsync(http, credentials, cancellationToken));
            var head = await files.HeadAsync(key, cancellationToken) ?? throw NotFound($"There is no file '{key}'. List the folder again: it may have been moved or deleted.");
            var url = await files.PresignAsync(key, HttpVerb.GET, DownloadUrlLifetime, r => r.ResponseHeaderOverrides.ContentDisposition = "inline");
            return TypedResults.Ok(new PreviewLink(url, head.Size, head.ContentType));
        }).Accepts<FileRequest>("application/json");

        api.MapPost("/delete", [EndpointSummary("Delete files and folders"), EndpointDescription("Deletes the given files, and the given folders with everything in them.")] async Task<Ok<FilesDeleted>> (DeleteRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            AuditLog audit, CatalogueDbContext catalogue, CancellationToken cancellationToken) =>
        {
            var roots = await RootsAsync(http, credentials, cancellationToken);
            if ((request.Keys?.Count ?? 0) + (request.Prefixes?.Count ?? 0) == 0) throw Bad("Nothing to delete: send the keys of files and the prefixes of folders to delete.");
            var keys = Many(request.Keys ?? [], "keys", allowEmpty: true).Select(key => FileKeys.Check(key, KeyKind.File, roots)).ToList();
            var prefixes = Many(request.Prefixes ?? [], "prefixes", allowEmpty: true).Select(prefix => FileKeys.Check(prefix, KeyKind.Folder, roots, what: "prefix")).ToList();
            // S3 answers "deleted" for a key it never had: only the files there now are deleted and counted.
            var present = new bool[keys.Count];
            await Parallel.ForAsync(0, keys.Count, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
                async (i, token) => present[i] = await files.HeadAsync(keys[i], token) is not null);
            var all = new HashSet<string>(keys.Where((_, i) => present[i]), StringComparer.Ordinal);
            var folders = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prefix in prefixes)
            {
                var contents = new FolderContents(prefix);
                await foreach (var item in files.EveryObjectAsync(prefix, cancellationToken))
                {
                    all.Add(item.Key);
                    contents.Add(item);
                }

                // A folder with nothing in it any more is not there to delete.
                if (contents.Objects > 0) folders.UnionWith(contents.Folders);
            }

            if (all.Count == 0) return TypedResults.Ok(new FilesDeleted(0, 0, 0));
            var deleted = await files.DeleteAsync([.. all.Order(StringComparer.Ordinal)], cancellationToken);
            var fileCount = all.Count(key => !key.EndsWith('/'));
            var what = string.Join(", ", prefixes.Concat(keys).Take(3)) + (prefixes.Count + keys.Count > 3 ? $" and {prefixes.Count + keys.Count - 3} more" : "");
            var counted = folders.Count == 0 ? $"{fileCount:N0} files" : $"{fileCount:N0} files in {folders.Count:N0} folders";
            audit.Add(AuditActions.FilesDeleted, Actor.Of(http.User), $"{http.User.DisplayName()} deleted {counted}: {what}",
                details: Details(all.Order(StringComparer.Ordinal)));
            await catalogue.SaveChangesAsync(CancellationToken.None);
            return TypedResults.Ok(new FilesDeleted(deleted, fileCount, folders.Count));
        }).Accepts<DeleteRequest>("application/json");

        api.MapPost("/move", [EndpointSummary("Move or rename"), EndpointDescription("Moves a file or a folder (with everything in it) to another key.")] async Task<Ok<FilesMoved>> (MoveRequest request, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
            AuditLog audit, CatalogueDbContext catalogue, CancellationToken cancellationToken) =>
        {
            var roots = await RootsAsync(http, credentials, cancellationToken);
            var kind = request.From?.EndsWith('/') == true ? KeyKind.Folder : KeyKind.File;
            var from = FileKeys.Check(request.From, kind, roots, what: "source");
            var to = FileKeys.Check(request.To, kind, roots, what: "target");
            if (from == to) throw Bad($"'{from}' is already there: give a different target.");
            if (kind == KeyKind.Folder && to.StartsWith(from, StringComparison.Ordinal)) throw Bad($"A folder cannot move into itself ('{from}' into '{to}'). Choose a target outside it.");

            var moving = new List<StoredObject>();
            if (kind == KeyKind.File)
            {
                var head = await files.HeadAsync(from, cancellationToken) ?? throw NotFound($"There is no file '{from}'. List the folder again: it may have been moved or deleted.");
                if (await files.HeadAsync(to, cancellationToken) is not null) throw Conflict($"There is already a file '{to}'. Delete it first, or choose another name.");
                moving.Add(new StoredObject(from, head.Size, null));
            }
            else
            {
                await foreach (var item in files.EveryObjectAsync(from, cancellationToken)) moving.Add(item);
                if (moving.Count == 0) throw NotFound($"There is no folder '{from}'. List its parent again: it may have been moved or deleted.");
                if (await files.AnyUnderAsync(to, cancellationToken)) throw Conflict($"There is already a folder '{to}'. Choose another name, or move what is in it instead.");
                foreach (var item in moving)
                    if (Encoding.UTF8.GetByteCount(to + item.Key[from.Length..]) > FileKeys.MaxKeyBytes)
                        throw Bad($"'{item.Key}' would have a key longer than {FileKeys.MaxKeyBytes:N0} bytes under '{to}'. Choose a shorter target.");
            }

            // Copies first, deletes only once every copy is made: a failure part way leaves the files in both places, never in neither.
            foreach (var item in moving) await files.CopyAsync(item.Key, to + item.Key[from.Length..], item.Size, cancellationToken);
            await files.DeleteAsync([.. moving.Select(m => m.Key)], cancellationToken);
            var bytes = moving.Sum(m => m.Size);
            audit.Add(AuditActions.FilesMoved, Actor.Of(http.User), kind == KeyKind.File
                    ? $"{http.User.DisplayName()} moved {from} to {to} ({bytes:N0} bytes)"
                    : $"{http.User.DisplayName()} moved {from} to {to}: {moving.Count:N0} files ({bytes:N0} bytes)",
                details: Details(moving.Select(m => $"{m.Key}\t{m.Size}")));
            await catalogue.SaveChangesAsync(CancellationToken.None);
            return TypedResults.Ok(new FilesMoved(moving.Count));
        }).Accepts<MoveRequest>("application/json")
          .ProducesProblem(StatusCodes.Status409Conflict);

        app.MapGet("/api/v1/aws_credentials", [EndpointSummary("Your S3 credentials"), EndpointDescription("Temporary AWS credentials that reach only your own and your teams' folders in the files bucket: for an hour, or for 15 minutes when asked for with an API token.")] async Task<Results<Ok<AwsCredentialsView>, ProblemHttpResult>> (HttpContext http, FilesBucketClient files,
            ToolCredentials credentials, S3Gateway gateway, IConfiguration configuration, CancellationToken cancellationToken) =>
        {
            if (!files.IsConfigured) return NotSetUp();
            var user = http.User;
            var prefixes = await credentials.PrefixesAsync(user.Id(), cancellationToken);
            ToolAwsCredentials issued;
            try
            {
                var lifetime = user.HasClaim(claim => claim.Type == ApiTokenGrant.Claim) ? TokenCredentialLifetime : CredentialLifetime;
                issued = await credentials.IssueAsync(user.Id(), prefixes, cancellationToken, lifetime);
            }
            catch (Exception exception) when (NoAwsCredentialsException.In(exception) is not null)
            {
                return NoCredentials();
            }
            catch (Exception exception) when (exception is LaunchException or AmazonClientException)
            {
                return TypedResults.Problem(title: "No credentials now", detail: exception.Message, statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            // Locally, S3 is the emulator, which checks no policy: these credentials work only through the gateway that does.
            string? endpoint = null;
            if (gateway.Enabled)
            {
                gateway.Admit(issued, FilesCredentials.HolderOf(user.Id()), $"{user.EmailOf()}'s files credentials");
                endpoint = http.RequestServices.GetService<LocalToolServices>()?.StorageEndpoint;
            }

            return TypedResults.Ok(new AwsCredentialsView(issued.AccessKeyId, issued.SecretAccessKey, issued.SessionToken, issued.Expiration, files.Bucket,
                StorageOptions.Region(configuration), endpoint, prefixes.All));
        }).RequireScope(ApiScopes.Files).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>
    /// Tallies the objects under a folder as a user sees them: a key ending in '/' is a folder's 0-byte marker, not a
    /// file; every folder between the top one and a file is a folder, whether or not it has a marker.
    /// </summary>
    private sealed class FolderContents(string prefix)
    {
        public long Objects { get; private set; }

        public long Files { get; private set; }

        public long Bytes { get; private set; }

        public HashSet<string> Folders { get; } = new(StringComparer.Ordinal) { prefix };

        public void Add(StoredObject item)
        {
            Objects++;
            if (item.Key.EndsWith('/')) Folders.Add(item.Key);
            else (Files, Bytes) = (Files + 1, Bytes + item.Size);
            for (var slash = item.Key.IndexOf('/', prefix.Length); slash >= 0 && slash < item.Key.Length - 1; slash = item.Key.IndexOf('/', slash + 1))
                Folders.Add(item.Key[..(slash + 1)]);
        }
    }

    private static async Task<IReadOnlyList<string>> RootsAsync(HttpContext http, ToolCredentials credentials, CancellationToken cancellationToken) =>
        (await credentials.PrefixesAsync(http.User.Id(), cancellationToken)).All;

    /// <summary>The upload's key, checked, and its id, once S3 confirms it is an upload in progress to that very key.</summary>
    private static async Task<(string Key, string UploadId)> UploadOfAsync(string? key, string? uploadId, HttpContext http, FilesBucketClient files, ToolCredentials credentials,
        CancellationToken cancellationToken)
    {
        var checkedKey = FileKeys.Check(key, KeyKind.File, await RootsAsync(http, credentials, cancellationToken));
        if (string.IsNullOrEmpty(uploadId) || uploadId.Length > 1024 || uploadId.Any(char.IsControl))
            throw Bad("Send the uploadId that POST /api/v1/files/multipart answered.");
        if (!await files.IsUploadToAsync(checkedKey, uploadId, cancellationToken))
            throw Bad($"There is no upload in progress to '{checkedKey}' with that uploadId: it was completed or aborted, or is another file's. Start the upload again.");
        return (checkedKey, uploadId);
    }

    private static List<T> Many<T>(List<T>? values, string name, int limit = MaxFilesPerCall, bool allowEmpty = false)
    {
        if (values is null || (values.Count == 0 && !allowEmpty)) throw Bad($"Send {name} as a list of 1 to {limit:N0}.");
        if (values.Count > limit) throw Bad($"{values.Count:N0} {name} in one call is too many: send at most {limit:N0} at a time.");
        return values;
    }

    private static string ContentTypeOf(string? contentType, string key)
    {
        if (string.IsNullOrEmpty(contentType)) return "application/octet-stream";
        if (contentType.Length > 200 || contentType.Any(c => c is < ' ' or > '~') || !MediaTypeHeaderValue.TryParse(contentType, out _))
            throw Bad($"The contentType of '{key}' is not a media type like text/csv: send one, or none for application/octet-stream.");
        return contentType;
    }

    private static void Audited(AuditLog audit, HttpContext http, string action, string verb, IReadOnlyList<UploadedFile> files)
    {
        var bytes = files.Sum(f => f.Size);
        var summary = files.Count == 1
            ? $"{http.User.DisplayName()} {verb} {files[0].Key} ({bytes:N0} bytes)"
            : $"{http.User.DisplayName()} {verb} {files.Count:N0} files ({bytes:N0} bytes): {string.Join(", ", files.Take(3).Select(f => f.Key))}{(files.Count > 3 ? $" and {files.Count - 3:N0} more" : "")}";
        audit.Add(action, Actor.Of(http.User), summary, details: Details(files.Select(f => $"{f.Key}\t{f.Size}")));
    }

    /// <summary>The most keys one audit entry lists; a larger delete or move says how many more there were.</summary>
    private const int MaxDetailLines = 10_000;

    /// <summary>One line per key (with its size, tab-separated, where known), for the audit entry's details.</summary>
    private static string Details(IEnumerable<string> lines)
    {
        var all = lines.ToList();
        return all.Count <= MaxDetailLines
            ? string.Join('\n', all)
            : string.Join('\n', all.Take(MaxDetailLines)) + $"\n… and {all.Count - MaxDetailLines:N0} more";
    }

    private static ProblemHttpResult NotSetUp() => TypedResults.Problem(title: "Files are not set up",
        detail: "This platform has no files bucket (Storage:Bucket is empty), so there are no files to see. Ask the platform team.", statusCode: StatusCodes.Status404NotFound);

    private static ProblemHttpResult NoCredentials() => TypedResults.Problem(title: "Files are unavailable: the web app has no AWS credentials",
        detail: NoAwsCredentialsException.Advice + " Until then, tell the platform team.", statusCode: StatusCodes.Status503ServiceUnavailable);

    private static FilesRefusedException Bad(string detail) => new(StatusCodes.Status400BadRequest, detail);

    private static FilesRefusedException NotFound(string detail) => new(StatusCodes.Status404NotFound, detail);

    private static FilesRefusedException Conflict(string detail) => new(StatusCodes.Status409Conflict, detail);

    /// <summary>Every files route: not set up, a refused key or value, and S3's own answers, each as a problem that says what to do.</summary>
    private static async ValueTask<object?> AnswerRefusals(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!http.RequestServices.GetRequiredService<FilesBucketClient>().IsConfigured) return NotSetUp();
        try
        {
            return await next(context);
        }
        catch (FilesRefusedException refused)
        {
            if (refused.Status == StatusCodes.Status403Forbidden || refused.UnsafePath)
                http.RequestServices.GetRequiredService<SecurityRefusals>().Record(http, refused.UnsafePath ? RefusalReason.UnsafePath : RefusalReason.WrongUser, refused.Message);
            return TypedResults.Problem(title: refused.Status switch
            {
                StatusCodes.Status403Forbidden => "Not one of your folders",
                StatusCodes.Status404NotFound => "Not found",
                StatusCodes.Status409Conflict => "Already there",
                _ => "Check what you sent",
            }, detail: refused.Message, statusCode: refused.Status);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return TypedResults.Problem(title: "Not found", detail: $"S3 has no such file or upload ({exception.ErrorCode}). List the folder again.", statusCode: StatusCodes.Status404NotFound);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == System.Net.HttpStatusCode.BadRequest)
        {
            return TypedResults.Problem(title: "S3 refused it", detail: $"S3 refused the request: {exception.Message} ({exception.ErrorCode}). Check what you sent, or start again.",
                statusCode: StatusCodes.Status400BadRequest);
        }
        catch (Exception exception) when (NoAwsCredentialsException.In(exception) is not null)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FilesApi)).LogError("No AWS credentials for {Method} {Path}: {Advice}",
                http.Request.Method, http.Request.Path, NoAwsCredentialsException.Advice);
            return NoCredentials();
        }
        catch (Exception exception) when (exception is AmazonServiceException or AmazonClientException or HttpRequestException
            || (exception is OperationCanceledException && !http.RequestAborted.IsCancellationRequested))
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FilesApi)).LogError(exception, "S3 failed for {Method} {Path}", http.Request.Method, http.Request.Path);
            return TypedResults.Problem(title: "Files are unavailable", detail: "The files store (S3) did not answer as it should. Try again in a minute (after a delete or move, list the folder first to see what was done).",
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }
}
