using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Amazon.S3;
using Amazon.S3.Model;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// "Your files" through its API against the emulator (moto): files go up and down through presigned URLs the browser
/// would use, folders, multipart uploads, delete and move, each audited; every way of reaching a key that is not the
/// user's is refused with nothing touched; and the credentials for scripts reach only the user's own prefixes.
/// </summary>
public sealed class FilesApiTests(WebFixture web, MotoServer aws) : IAsyncDisposable, IClassFixture<MotoServer>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private const string PortalOrigin = "http://dataworkspace.localhost:8000";
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-files-api-test-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string bucket = "files-" + Guid.NewGuid().ToString("N")[..12];
    private readonly HttpClient browser = new();
    private WebApplicationFactory<Program>? app;
    private string[] browserEndpoints = [];

    private WebApplicationFactory<Program> App()
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", MotoServer.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", MotoServer.SecretAccessKey);
        return app ??= web.Factory.WithWebHostBuilder(host =>
        {
            host.UseSetting("Tools:LocalWorkDirectory", workDirectory)
                .UseSetting("Storage:Bucket", bucket)
                .UseSetting("Storage:BrowserOrigins:0", PortalOrigin)
                .UseSetting("Aws:ServiceUrl", aws.Url.ToString())
                .UseSetting("Aws:Region", MotoServer.Region);
            // A real tool with boto3, as the Local launcher starts one, to see the same files.
            foreach (var (key, value) in S3Tool.TemplateSettings) host.UseSetting(key, value);
            for (var i = 0; i < browserEndpoints.Length; i++) host.UseSetting($"Storage:BrowserEndpoints:{i}", browserEndpoints[i]);
        });
    }

    /// <summary>The emulator as the platform itself reaches it, to see what is really in the bucket.</summary>
    private AmazonS3Client Emulator() => new(
        new Amazon.Runtime.BasicAWSCredentials(MotoServer.AccessKeyId, MotoServer.SecretAccessKey),
        new AmazonS3Config { ServiceURL = aws.Url.ToString(), ForcePathStyle = true, AuthenticationRegion = MotoServer.Region });

    private async Task<PlatformIdentity> UserAsync()
    {
        var user = CatalogueData.NewUser("partner.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        return user;
    }

    private async Task<string> TeamAsync(PlatformIdentity? member)
    {
        var team = "files_api_" + Guid.NewGuid().ToString("N")[..8];
        await web.ScalarAsync<object>("INSERT INTO teams (id, slug, name, created_at) VALUES (gen_random_uuid(), $1, 'Files API team', now())", team);
        if (member is not null)
            await web.ScalarAsync<object>("INSERT INTO team_members (team_id, user_id, added_at) SELECT id, $1, now() FROM teams WHERE slug = $2", member.UserId, team);
        return team;
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> CallAsync(HttpMethod method, string path, PlatformIdentity user, object? body = null)
    {
        using var client = App().CreateClient();
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body);
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
        using var response = await client.SendAsync(request, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private Task<(HttpStatusCode Status, JsonElement Json)> GetAsync(string path, PlatformIdentity user) => CallAsync(HttpMethod.Get, path, user);

    private Task<(HttpStatusCode Status, JsonElement Json)> PostAsync(string path, PlatformIdentity user, object body) => CallAsync(HttpMethod.Post, path, user, body);

    private async Task<JsonElement> OkAsync(Task<(HttpStatusCode Status, JsonElement Json)> call, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var (status, json) = await call;
        Assert.True(status == expected, $"{(int)status}: {json}");
        return json;
    }

    /// <summary>Uploads as the page does: ask for presigned POST forms, send each file to S3 itself, then say they are done.</summary>
    private async Task<JsonElement> UploadAsync(PlatformIdentity user, params (string Key, byte[] Bytes)[] files)
    {
        var uploads = await OkAsync(PostAsync("/api/v1/files/uploads", user, new { files = files.Select(f => new { key = f.Key, size = f.Bytes.Length, contentType = "text/csv" }) }));
        var answered = uploads.GetProperty("uploads").EnumerateArray().ToList();
        Assert.Equal(files.Length, answered.Count);
        foreach (var (upload, (_, bytes)) in answered.Zip(files))
        {
            using var form = new MultipartFormDataContent();
            foreach (var field in uploads.GetProperty("fields").EnumerateObject().Concat(upload.GetProperty("fields").EnumerateObject()))
                form.Add(new StringContent(field.Value.GetString()!), field.Name);
            form.Add(new ByteArrayContent(bytes), "file", "file");
            using var post = new HttpRequestMessage(HttpMethod.Post, uploads.GetProperty("url").GetString()) { Content = form };
            post.Headers.TryAddWithoutValidation("Origin", PortalOrigin);
            using var response = await browser.SendAsync(post, Cancel);
            Assert.True(response.IsSuccessStatusCode, $"PUT {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Cancel)}");
            Assert.Equal(PortalOrigin, response.Headers.TryGetValues("Access-Control-Allow-Origin", out var allowed) ? allowed.Single() : null);
        }

        return await OkAsync(PostAsync("/api/v1/files/uploads/done", user, new { keys = answered.Select(a => a.GetProperty("key").GetString()) }));
    }

    private async Task<List<string>> KeysAsync(string prefix = "")
    {
        using var s3 = Emulator();
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, ContinuationToken = token }, Cancel);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return keys;
    }

    private Task<string?> AuditAsync(PlatformIdentity user) => web.ScalarAsync<string>(
        "SELECT string_agg(action || ' | ' || summary || ' | ' || coalesce(details, ''), E'\\n' ORDER BY id) FROM audit_events WHERE actor_id = $1 AND action LIKE 'file%'", user.UserId);

    [Fact]
    public async Task Files_with_odd_names_go_up_and_come_back_byte_for_byte_as_attachments_and_are_audited()
    {
        var user = await UserAsync();
        var team = await TeamAsync(user);
        var home = $"home/{user.Hash}/";

        var roots = await OkAsync(GetAsync("/api/v1/files/roots", user));
        Assert.Equal(bucket, roots.GetProperty("bucket").GetString());
        Assert.Equal([$"{home}|Your home folder|home", $"teams/{team}/|{team}|team"],
            roots.GetProperty("roots").EnumerateArray().Select(r => $"{r.GetProperty("prefix")}|{r.GetProperty("name")}|{r.GetProperty("kind")}"));

        var odd = home + "odd #?+&'% ünï 日本.csv";
        var csv = Encoding.UTF8.GetBytes("id,name\n1,Ada\n2,Grace\n");
        var done = await UploadAsync(user, (odd, csv), (home + "empty.txt", []), ($"teams/{team}/shared.csv", csv));
        Assert.Equal([csv.Length, 0, csv.Length], done.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("size").GetInt32()));

        var listing = await OkAsync(GetAsync($"/api/v1/files/list?prefix={Uri.EscapeDataString(home)}", user));
        Assert.Equal(home, listing.GetProperty("prefix").GetString());
        Assert.Equal([(home + "empty.txt", "empty.txt", 0L), (odd, "odd #?+&'% ünï 日本.csv", csv.Length)],
            listing.GetProperty("files").EnumerateArray().Select(f => (f.GetProperty("key").GetString()!, f.GetProperty("name").GetString()!, f.GetProperty("size").GetInt64())));
        Assert.Equal(JsonValueKind.Null, listing.GetProperty("continuation").ValueKind);

        var download = await OkAsync(PostAsync("/api/v1/files/download", user, new { key = odd }));
        using (var response = await browser.GetAsync(download.GetProperty("url").GetString(), Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(csv, await response.Content.ReadAsByteArrayAsync(Cancel));
        }

        // Download links last 5 minutes, upload links 15 (S3 counts from the signing, rounded up to the second).
        static int ExpiresIn(JsonElement link) => int.Parse(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri(link.GetProperty("url").GetString()!).Query)["X-Amz-Expires"].ToString(),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(ExpiresIn(download), 300, 302);
        var uploadForm = (await OkAsync(PostAsync("/api/v1/files/uploads", user, new { files = new[] { new { key = home + "later.csv", size = 1 } } }))).GetProperty("uploads")[0];
        var policy = JsonDocument.Parse(Convert.FromBase64String(uploadForm.GetProperty("fields").GetProperty("Policy").GetString()!)).RootElement;
        Assert.InRange(policy.GetProperty("expiration").GetDateTimeOffset() - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(890), TimeSpan.FromSeconds(902));

        // S3 answers the response-content-disposition the URL signs (SigV4 signs the whole query) as Content-Disposition; moto leaves it out.
        var signed = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri(download.GetProperty("url").GetString()!).Query);
        var disposition = System.Net.Http.Headers.ContentDispositionHeaderValue.Parse(signed["response-content-disposition"].ToString());
        Assert.Equal("attachment", disposition.DispositionType);
        Assert.Equal("odd #?+&'% ünï 日本.csv", disposition.FileNameStar);

        var preview = await OkAsync(PostAsync("/api/v1/files/preview", user, new { key = odd }));
        Assert.Equal(csv.Length, preview.GetProperty("size").GetInt64());
        Assert.Equal("text/csv", preview.GetProperty("contentType").GetString());
        using (var ranged = new HttpRequestMessage(HttpMethod.Get, preview.GetProperty("url").GetString()))
        {
            ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 6);
            using var response = await browser.SendAsync(ranged, Cancel);
            Assert.Equal("id,name", await response.Content.ReadAsStringAsync(Cancel));
        }

        // Several pages: the continuation token leads on, and the pages together are the folder.
        var first = await OkAsync(GetAsync($"/api/v1/files/list?prefix={Uri.EscapeDataString(home)}&max=1", user));
        var token = first.GetProperty("continuation").GetString();
        Assert.NotNull(token);
        var second = await OkAsync(GetAsync($"/api/v1/files/list?prefix={Uri.EscapeDataString(home)}&max=1&continuation={Uri.EscapeDataString(token)}", user));
        Assert.Equal([home + "empty.txt", odd], first.GetProperty("files").EnumerateArray().Concat(second.GetProperty("files").EnumerateArray()).Select(f => f.GetProperty("key").GetString()));

        var audit = await AuditAsync(user);
        Assert.Contains($"files.uploaded | Test User uploaded 3 files ({2 * csv.Length} bytes)", audit);
        Assert.Contains($"{odd}\t{csv.Length}", audit);
        Assert.Contains($"file.downloaded | Test User downloaded {odd} ({csv.Length} bytes)", audit);
    }

    [Fact]
    public async Task Upload_forms_pin_key_size_and_type_and_the_page_learns_first_which_names_are_taken()
    {
        var user = await UserAsync();
        var home = $"home/{user.Hash}/";
        byte[] Bytes(int n) => Encoding.UTF8.GetBytes(new string('x', n));
        // Five in one folder (one listing answers for them), one alone in another (a HEAD answers for it).
        await UploadAsync(user, [.. Enumerable.Range(1, 5).Select(i => ($"{home}many/{i} ü.csv", Bytes(i))), ($"{home}one/only.csv", Bytes(9))]);

        var asked = new[] { $"{home}many/3 ü.csv", $"{home}many/0 ü.csv", $"{home}many/1 ü.csv", $"{home}many/5 ü.csv", $"{home}many/9 ü.csv", $"{home}one/only.csv", $"{home}one/other.csv", $"{home}none/x.csv" };
        var existing = await OkAsync(PostAsync("/api/v1/files/uploads/existing", user, new { keys = asked }));
        Assert.Equal([($"{home}many/3 ü.csv", 3L), ($"{home}many/1 ü.csv", 1L), ($"{home}many/5 ü.csv", 5L), ($"{home}one/only.csv", 9L)],
            existing.GetProperty("existing").EnumerateArray().Select(e => (e.GetProperty("key").GetString()!, e.GetProperty("size").GetInt64())));

        // Each form's policy allows exactly one key, one size and one content type, in this bucket.
        var forms = await OkAsync(PostAsync("/api/v1/files/uploads", user, new { files = new[] { new { key = home + "a.csv", size = 12, contentType = "text/csv" }, new { key = home + "b.txt", size = 0, contentType = "text/plain" } } }));
        var policies = forms.GetProperty("uploads").EnumerateArray().Select(u => JsonDocument.Parse(Convert.FromBase64String(u.GetProperty("fields").GetProperty("Policy").GetString()!)).RootElement.GetProperty("conditions").ToString()).ToList();
        Assert.Contains($"{{\"key\":{JsonSerializer.Serialize(home + "a.csv")}}}", policies[0]);
        Assert.Contains("[\"content-length-range\",12,12]", policies[0]);
        Assert.Contains("{\"Content-Type\":\"text/csv\"}", policies[0]);
        Assert.Contains($"{{\"bucket\":\"{bucket}\"}}", policies[0]);
        Assert.Contains("[\"content-length-range\",0,0]", policies[1]);
        // Credential, algorithm and date once for the batch; key, content type, policy and signature per file.
        Assert.Equal(new[] { "Content-Type", "key", "Policy", "x-amz-signature" }.Order(StringComparer.Ordinal),
            forms.GetProperty("uploads")[1].GetProperty("fields").EnumerateObject().Select(f => f.Name).Order(StringComparer.Ordinal));
        Assert.Contains("x-amz-credential", forms.GetProperty("fields").EnumerateObject().Select(f => f.Name));
    }

    [Fact]
    public async Task The_bucket_lets_the_portals_pages_upload_and_read_and_no_other_origin()
    {
        _ = App().Services;
        using var s3 = Emulator();
        var rules = (await s3.GetCORSConfigurationAsync(new GetCORSConfigurationRequest { BucketName = bucket }, Cancel)).Configuration.Rules;
        var rule = Assert.Single(rules);
        Assert.Equal([PortalOrigin], rule.AllowedOrigins);
        Assert.Equal(["GET", "HEAD", "POST", "PUT"], rule.AllowedMethods.Order());
        Assert.Equal(["ETag"], rule.ExposeHeaders);

        async Task<string?> PreflightAsync(string origin)
        {
            using var preflight = new HttpRequestMessage(HttpMethod.Options, new Uri(aws.Url, $"{bucket}/home/x/file.csv"));
            preflight.Headers.TryAddWithoutValidation("Origin", origin);
            preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "PUT");
            preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", "content-type");
            using var response = await browser.SendAsync(preflight, Cancel);
            return response.Headers.TryGetValues("Access-Control-Allow-Origin", out var allowed) ? allowed.Single() : null;
        }

        Assert.Equal(PortalOrigin, await PreflightAsync(PortalOrigin));

        // A second start replaces the platform's rule rather than adding another.
        await using var again = web.Factory.WithWebHostBuilder(host => host.UseSetting("Storage:Bucket", bucket).UseSetting("Storage:BrowserOrigins:0", PortalOrigin)
            .UseSetting("Tools:LocalWorkDirectory", workDirectory).UseSetting("Aws:ServiceUrl", aws.Url.ToString()).UseSetting("Aws:Region", MotoServer.Region));
        _ = again.Services;
        Assert.Single((await s3.GetCORSConfigurationAsync(new GetCORSConfigurationRequest { BucketName = bucket }, Cancel)).Configuration.Rules);
    }

    [Fact]
    public async Task Folders_are_made_listed_counted_and_deleted_with_everything_in_them()
    {
        var user = await UserAsync();
        var home = $"home/{user.Hash}/";
        var created = await OkAsync(PostAsync("/api/v1/files/folders", user, new { prefix = home + "reports/" }), HttpStatusCode.Created);
        Assert.Equal(home + "reports/", created.GetProperty("prefix").GetString());
        await OkAsync(PostAsync("/api/v1/files/folders", user, new { prefix = home + "reports/2025/" }), HttpStatusCode.Created);
        await UploadAsync(user, (home + "reports/q1.csv", [1, 2, 3]), (home + "reports/2025/q2.csv", [4, 5]), (home + "reports/unmarked/r.csv", [7]), (home + "keep.txt", [6]));

        var top = await OkAsync(GetAsync($"/api/v1/files/list?prefix={home}", user));
        Assert.Equal([("reports", home + "reports/")], top.GetProperty("folders").EnumerateArray().Select(f => (f.GetProperty("name").GetString(), f.GetProperty("prefix").GetString())));
        var reports = await OkAsync(GetAsync($"/api/v1/files/list?prefix={home}reports/", user));
        // The folder's own 0-byte marker is not a file in it.
        Assert.Equal([home + "reports/q1.csv"], reports.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("key").GetString()));
        Assert.Equal([home + "reports/2025/", home + "reports/unmarked/"], reports.GetProperty("folders").EnumerateArray().Select(f => f.GetProperty("prefix").GetString()));

        // Files are files and folders folders: the 0-byte markers of reports/ and 2025/ are not files, and unmarked/ is a folder without one.
        var count = await OkAsync(GetAsync($"/api/v1/files/count?prefix={home}reports/", user));
        Assert.Equal((3, 3, 6), (count.GetProperty("files").GetInt32(), count.GetProperty("folders").GetInt32(), count.GetProperty("bytes").GetInt32()));
        var leaf = await OkAsync(GetAsync($"/api/v1/files/count?prefix={home}reports/2025/", user));
        Assert.Equal((1, 1, 2), (leaf.GetProperty("files").GetInt32(), leaf.GetProperty("folders").GetInt32(), leaf.GetProperty("bytes").GetInt32()));

        var deleted = await OkAsync(PostAsync("/api/v1/files/delete", user, new { prefixes = new[] { home + "reports/" }, keys = Array.Empty<string>() }));
        Assert.Equal((5, 3, 3), (deleted.GetProperty("deleted").GetInt32(), deleted.GetProperty("files").GetInt32(), deleted.GetProperty("folders").GetInt32()));
        Assert.Equal([home + "keep.txt"], await KeysAsync(home));
        Assert.Contains($"files.deleted | Test User deleted 3 files in 3 folders: {home}reports/", await AuditAsync(user));
        Assert.Contains(home + "reports/2025/q2.csv", await AuditAsync(user));

        // Only what was there is counted.
        var single = await OkAsync(PostAsync("/api/v1/files/delete", user, new { keys = new[] { home + "keep.txt", home + "never-was.txt" } }));
        Assert.Equal((1, 1, 0), (single.GetProperty("deleted").GetInt32(), single.GetProperty("files").GetInt32(), single.GetProperty("folders").GetInt32()));
        Assert.Empty(await KeysAsync(home));
    }

    [Fact]
    public async Task Files_and_folders_move_and_rename_within_the_users_roots_and_never_onto_something()
    {
        var user = await UserAsync();
        var team = await TeamAsync(user);
        var home = $"home/{user.Hash}/";
        await UploadAsync(user, (home + "a.csv", [1]), (home + "b.csv", [2]), (home + "dir/x.csv", [3, 3]), (home + "dir/sub/y.csv", [4]));

        Assert.Equal(1, (await OkAsync(PostAsync("/api/v1/files/move", user, new { from = home + "a.csv", to = home + "renamed.csv" }))).GetProperty("moved").GetInt32());
        var (taken, problem) = await PostAsync("/api/v1/files/move", user, new { from = home + "renamed.csv", to = home + "b.csv" });
        Assert.Equal(HttpStatusCode.Conflict, taken);
        Assert.Contains("already a file", problem.GetProperty("detail").GetString());

        Assert.Equal(2, (await OkAsync(PostAsync("/api/v1/files/move", user, new { from = home + "dir/", to = $"teams/{team}/moved/" }))).GetProperty("moved").GetInt32());
        await OkAsync(PostAsync("/api/v1/files/folders", user, new { prefix = home + "occupied/" }), HttpStatusCode.Created);
        Assert.Equal(HttpStatusCode.Conflict, (await PostAsync("/api/v1/files/move", user, new { from = $"teams/{team}/moved/", to = home + "occupied/" })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync("/api/v1/files/move", user, new { from = $"teams/{team}/moved/", to = $"teams/{team}/moved/inside/" })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync("/api/v1/files/move", user, new { from = home + "b.csv", to = home + "folder/" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync("/api/v1/files/move", user, new { from = home + "gone.csv", to = home + "c.csv" })).Status);

        Assert.Equal([home + "b.csv", home + "occupied/", home + "renamed.csv", $"teams/{team}/moved/sub/y.csv", $"teams/{team}/moved/x.csv"],
            (await KeysAsync(home)).Concat(await KeysAsync($"teams/{team}/")).Order(StringComparer.Ordinal));
        using (var s3 = Emulator())
        using (var moved = await s3.GetObjectAsync(bucket, $"teams/{team}/moved/x.csv", Cancel))
            Assert.Equal("text/csv", moved.Headers.ContentType);
        var audit = await AuditAsync(user);
        Assert.Contains($"files.moved | Test User moved {home}a.csv to {home}renamed.csv (1 bytes) | {home}a.csv\t1", audit);
        Assert.Contains($"files.moved | Test User moved {home}dir/ to teams/{team}/moved/: 2 files (3 bytes)", audit);
    }

    [Fact]
    public async Task With_two_browser_addresses_forms_may_go_to_either_and_parts_alternate_each_signed_for_its_own_host()
    {
        var localhost = $"http://localhost:{aws.Url.Port}";
        browserEndpoints = [aws.Url.ToString().TrimEnd('/'), localhost];
        var user = await UserAsync();
        var home = $"home/{user.Hash}/";

        var uploads = await OkAsync(PostAsync("/api/v1/files/uploads", user, new { files = new[] { new { key = home + "b.csv", size = 3, contentType = "text/csv" } } }));
        Assert.Equal([$"{aws.Url}{bucket}", $"{localhost}/{bucket}"], uploads.GetProperty("urls").EnumerateArray().Select(u => u.GetString()!.TrimEnd('/')));
        Assert.Equal(uploads.GetProperty("url").GetString(), uploads.GetProperty("urls")[0].GetString());
        using (var form = new MultipartFormDataContent())
        {
            foreach (var field in uploads.GetProperty("fields").EnumerateObject().Concat(uploads.GetProperty("uploads")[0].GetProperty("fields").EnumerateObject()))
                form.Add(new StringContent(field.Value.GetString()!), field.Name);
            form.Add(new ByteArrayContent("a,b"u8.ToArray()), "file", "b.csv");
            using var response = await browser.PostAsync(uploads.GetProperty("urls")[1].GetString(), form, Cancel);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Cancel));
        }

        Assert.Equal([home + "b.csv"], await KeysAsync(home));

        var key = home + "big.bin";
        var bytes = new byte[17 * 1024 * 1024];
        new Random(5).NextBytes(bytes);
        var started = await OkAsync(PostAsync("/api/v1/files/multipart", user, new { key, size = bytes.Length }));
        Assert.Equal(2, started.GetProperty("endpoints").GetInt32());
        var uploadId = started.GetProperty("uploadId").GetString()!;
        var partSize = started.GetProperty("partSize").GetInt32();
        var urls = (await OkAsync(PostAsync("/api/v1/files/multipart/parts", user, new { key, uploadId, partNumbers = new[] { 1, 2 } }))).GetProperty("urls");
        var (first, second) = (new Uri(urls.GetProperty("1").GetString()!), new Uri(urls.GetProperty("2").GetString()!));
        Assert.Equal(["localhost", "127.0.0.1"], new[] { first.Host, second.Host });
        var etags = new List<object>();
        foreach (var (number, url) in new[] { (1, first), (2, second) })
        {
            using var put = await browser.PutAsync(url, new ByteArrayContent(bytes[((number - 1) * partSize)..Math.Min(bytes.Length, number * partSize)]), Cancel);
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync(Cancel));
            etags.Add(new { partNumber = number, etag = put.Headers.ETag!.Tag });
        }

        await OkAsync(PostAsync("/api/v1/files/multipart/complete", user, new { key, uploadId, parts = etags }));
        var download = await OkAsync(PostAsync("/api/v1/files/download", user, new { key }));
        Assert.Equal(bytes, await browser.GetByteArrayAsync(download.GetProperty("url").GetString(), Cancel));
    }

    [Fact]
    public async Task A_large_file_goes_up_in_parts_that_can_be_listed_to_resume_and_an_abort_removes_them()
    {
        var user = await UserAsync();
        var key = $"home/{user.Hash}/big file.bin";
        var bytes = new byte[21 * 1024 * 1024];
        new Random(17).NextBytes(bytes);

        var started = await OkAsync(PostAsync("/api/v1/files/multipart", user, new { key, size = bytes.Length, contentType = "application/octet-stream" }));
        var uploadId = started.GetProperty("uploadId").GetString()!;
        var partSize = started.GetProperty("partSize").GetInt32();
        Assert.Equal((16 * 1024 * 1024, 2), (partSize, started.GetProperty("partCount").GetInt32()));

        var urls = (await OkAsync(PostAsync("/api/v1/files/multipart/parts", user, new { key, uploadId, partNumbers = new[] { 1, 2 } }))).GetProperty("urls");
        var etags = new List<(int, string)>();
        foreach (var number in new[] { 1, 2 })
        {
            var slice = bytes.AsMemory((number - 1) * partSize, Math.Min(partSize, bytes.Length - ((number - 1) * partSize))).ToArray();
            using var put = new HttpRequestMessage(HttpMethod.Put, urls.GetProperty(number.ToString(System.Globalization.CultureInfo.InvariantCulture)).GetString()) { Content = new ByteArrayContent(slice) };
            using var response = await browser.SendAsync(put, Cancel);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Cancel));
            etags.Add((number, response.Headers.ETag!.Tag));
        }

        // Nothing is visible until the upload completes; what S3 has is listed, to resume from.
        Assert.Empty(await KeysAsync($"home/{user.Hash}/"));
        var parts = await OkAsync(GetAsync($"/api/v1/files/multipart/parts?key={Uri.EscapeDataString(key)}&uploadId={Uri.EscapeDataString(uploadId)}", user));
        Assert.Equal([(1, etags[0].Item2, (long)partSize), (2, etags[1].Item2, bytes.Length - (long)partSize)],
            parts.GetProperty("parts").EnumerateArray().Select(p => (p.GetProperty("partNumber").GetInt32(), p.GetProperty("etag").GetString(), p.GetProperty("size").GetInt64())));

        var completed = await OkAsync(PostAsync("/api/v1/files/multipart/complete", user, new { key, uploadId, parts = etags.Select(e => new { partNumber = e.Item1, etag = e.Item2 }) }));
        Assert.Equal(bytes.Length, completed.GetProperty("size").GetInt64());
        var download = await OkAsync(PostAsync("/api/v1/files/download", user, new { key }));
        Assert.Equal(bytes, await browser.GetByteArrayAsync(download.GetProperty("url").GetString(), Cancel));
        Assert.Contains($"files.uploaded | Test User uploaded {key} ({bytes.Length:N0} bytes)", await AuditAsync(user));

        // An upload given up: its parts go, and it can no longer be resumed.
        var second = await OkAsync(PostAsync("/api/v1/files/multipart", user, new { key = key + ".2", size = bytes.Length }));
        var secondId = second.GetProperty("uploadId").GetString()!;
        var secondUrl = (await OkAsync(PostAsync("/api/v1/files/multipart/parts", user, new { key = key + ".2", uploadId = secondId, partNumbers = new[] { 1 } }))).GetProperty("urls").GetProperty("1").GetString();
        using (var put = await browser.PutAsync(secondUrl, new ByteArrayContent(bytes[..(5 * 1024 * 1024)]), Cancel)) Assert.True(put.IsSuccessStatusCode);
        Assert.True((await OkAsync(PostAsync("/api/v1/files/multipart/abort", user, new { key = key + ".2", uploadId = secondId }))).GetProperty("aborted").GetBoolean());
        using var s3 = Emulator();
        Assert.Empty((await s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket, Prefix = $"home/{user.Hash}/" }, Cancel)).MultipartUploads ?? []);
        Assert.Equal(HttpStatusCode.BadRequest, (await GetAsync($"/api/v1/files/multipart/parts?key={Uri.EscapeDataString(key + ".2")}&uploadId={Uri.EscapeDataString(secondId)}", user)).Status);
        Assert.Equal([key], await KeysAsync($"home/{user.Hash}/"));
    }

    [Fact]
    public async Task Every_way_to_reach_another_users_or_an_unknown_prefix_is_refused_and_nothing_is_touched()
    {
        var user = await UserAsync();
        var other = await UserAsync();
        var notMine = await TeamAsync(other);
        var mine = await TeamAsync(user);
        var home = $"home/{user.Hash}/";
        var theirs = $"home/{other.Hash}/";
        await UploadAsync(user, (home + "mine.csv", [1]));
        await UploadAsync(other, (theirs + "secret.csv", [2]), ($"teams/{notMine}/secret.csv", [3]));
        var theirUpload = (await OkAsync(PostAsync("/api/v1/files/multipart", other, new { key = theirs + "big.bin", size = 20 * 1024 * 1024 }))).GetProperty("uploadId").GetString()!;
        var myUpload = (await OkAsync(PostAsync("/api/v1/files/multipart", user, new { key = home + "big.bin", size = 20 * 1024 * 1024 }))).GetProperty("uploadId").GetString()!;
        var before = (await KeysAsync()).Order(StringComparer.Ordinal).ToList();

        static char Fullwidth(char c) => c <= '9' ? (char)(0xFF10 + c - '0') : (char)(0xFF41 + c - 'a');
        var longName = new string('n', 256);
        var longKey = home + string.Concat(Enumerable.Repeat(new string('d', 200) + "/", 6)) + "x.csv";
        // Each bad key, whose it would be (403) or that it is malformed (400).
        var keys = new (string Key, HttpStatusCode Status)[]
        {
            (theirs + "secret.csv", HttpStatusCode.Forbidden),
            (theirs + "planted.csv", HttpStatusCode.Forbidden),
            ($"teams/{notMine}/secret.csv", HttpStatusCode.Forbidden),
            ($"teams/{notMine}x/planted.csv", HttpStatusCode.Forbidden),
            ($"teams/{mine[..^1]}/planted.csv", HttpStatusCode.Forbidden),
            ($"home/{user.Hash}X/planted.csv", HttpStatusCode.Forbidden),
            ($"home/{user.Hash[..7]}/planted.csv", HttpStatusCode.Forbidden),
            ($"HOME/{user.Hash}/planted.csv", HttpStatusCode.Forbidden),
            ("home/planted.csv", HttpStatusCode.Forbidden),
            ("teams/planted.csv", HttpStatusCode.Forbidden),
            ("planted.csv", HttpStatusCode.Forbidden),
            ($"home/{Fullwidth(user.Hash[0])}{user.Hash[1..]}/planted.csv", HttpStatusCode.Forbidden),
            ($"h\u043eme/{user.Hash}/planted.csv", HttpStatusCode.Forbidden),
            ($"home/{user.Hash}\u0301/planted.csv", HttpStatusCode.Forbidden),
            ($"teams/{mine}\u0301/planted.csv", HttpStatusCode.Forbidden),
            ($"{home}../{other.Hash}/planted.csv", HttpStatusCode.BadRequest),
            ($"{home}../{other.Hash}/secret.csv", HttpStatusCode.BadRequest),
            ($"{home}./planted.csv", HttpStatusCode.BadRequest),
            ($"{home}/planted.csv", HttpStatusCode.BadRequest),
            ($"/{home}planted.csv", HttpStatusCode.BadRequest),
            ($"/{theirs}secret.csv", HttpStatusCode.BadRequest),
            ($"{home}a\\..\\..\\{other.Hash}\\planted.csv", HttpStatusCode.BadRequest),
            ($"{home}%2e%2e/{other.Hash}/planted.csv", HttpStatusCode.BadRequest),
            ($"{home}..%2F{other.Hash}%2Fplanted.csv", HttpStatusCode.BadRequest),
            ($"home%2F{other.Hash}%2Fplanted.csv", HttpStatusCode.BadRequest),
            ($"{home}planted%00.csv", HttpStatusCode.BadRequest),
            ($"{home}planted\u0001.csv", HttpStatusCode.BadRequest),
            ($"{home}planted\n.csv", HttpStatusCode.BadRequest),
            ($"{home}planted\u007f.csv", HttpStatusCode.BadRequest),
            ($"{home}planted .csv ", HttpStatusCode.BadRequest),
            ($"{home}planted.", HttpStatusCode.BadRequest),
            ($"{home}{longName}", HttpStatusCode.BadRequest),
            (longKey, HttpStatusCode.BadRequest),
            ($"{home}folder/", HttpStatusCode.BadRequest),
            ("", HttpStatusCode.BadRequest),
        };
        var prefixes = new (string Prefix, HttpStatusCode Status)[]
        {
            (theirs, HttpStatusCode.Forbidden),
            ($"teams/{notMine}/", HttpStatusCode.Forbidden),
            ($"home/{user.Hash}X/", HttpStatusCode.Forbidden),
            ($"teams/{mine}x/", HttpStatusCode.Forbidden),
            ("home/", HttpStatusCode.Forbidden),
            ("teams/", HttpStatusCode.Forbidden),
            ("", HttpStatusCode.BadRequest),
            ("/", HttpStatusCode.BadRequest),
            (home[..^1], HttpStatusCode.BadRequest),
            ($"{home}../{other.Hash}/", HttpStatusCode.BadRequest),
            ($"{home}..%2F{other.Hash}%2F", HttpStatusCode.BadRequest),
            ($"{home}.//", HttpStatusCode.BadRequest),
            ($"/{theirs}", HttpStatusCode.BadRequest),
            ($"home\\{other.Hash}\\", HttpStatusCode.BadRequest),
        };

        var failures = new List<string>();
        async Task ExpectAsync(string what, Task<(HttpStatusCode Status, JsonElement Json)> call, HttpStatusCode expected)
        {
            var (status, json) = await call;
            var detail = json.ValueKind == JsonValueKind.Object && json.TryGetProperty("detail", out var d) ? d.GetString() : null;
            if (status != expected || string.IsNullOrEmpty(detail)) failures.Add($"{what}: {(int)status} {json}");
            else if (json.ToString().Contains("X-Amz-Signature", StringComparison.OrdinalIgnoreCase)) failures.Add($"{what}: answered a presigned URL or form");
        }

        foreach (var (key, status) in keys)
        {
            var shown = JsonSerializer.Serialize(key);
            await ExpectAsync($"upload {shown}", PostAsync("/api/v1/files/uploads", user, new { files = new[] { new { key, size = 1 } } }), status);
            await ExpectAsync($"upload {shown} beside one of mine", PostAsync("/api/v1/files/uploads", user, new { files = new[] { new { key = home + "fine.csv", size = 1 }, new { key, size = 1 } } }), status);
            await ExpectAsync($"upload done {shown}", PostAsync("/api/v1/files/uploads/done", user, new { keys = new[] { key } }), status);
            await ExpectAsync($"is {shown} there", PostAsync("/api/v1/files/uploads/existing", user, new { keys = new[] { home + "fine.csv", key } }), status);
            await ExpectAsync($"multipart {shown}", PostAsync("/api/v1/files/multipart", user, new { key, size = 100 * 1024 * 1024 }), status);
            await ExpectAsync($"download {shown}", PostAsync("/api/v1/files/download", user, new { key }), status);
            await ExpectAsync($"preview {shown}", PostAsync("/api/v1/files/preview", user, new { key }), status);
            await ExpectAsync($"delete {shown}", PostAsync("/api/v1/files/delete", user, new { keys = new[] { home + "mine.csv", key } }), status);
            await ExpectAsync($"move from {shown}", PostAsync("/api/v1/files/move", user, new { from = key, to = home + "stolen.csv" }), status);
            await ExpectAsync($"move to {shown}", PostAsync("/api/v1/files/move", user, new { from = home + "mine.csv", to = key }), status);
            await ExpectAsync($"parts of {shown} with its own upload id", PostAsync("/api/v1/files/multipart/parts", user, new { key, uploadId = theirUpload, partNumbers = new[] { 1 } }), status);
            await ExpectAsync($"abort {shown}", PostAsync("/api/v1/files/multipart/abort", user, new { key, uploadId = theirUpload }), status);
            await ExpectAsync($"complete {shown}", PostAsync("/api/v1/files/multipart/complete", user, new { key, uploadId = theirUpload, parts = new[] { new { partNumber = 1, etag = "\"x\"" } } }), status);
            await ExpectAsync($"list parts of {shown}", GetAsync($"/api/v1/files/multipart/parts?key={Uri.EscapeDataString(key)}&uploadId={Uri.EscapeDataString(theirUpload)}", user), status);
        }

        foreach (var (prefix, status) in prefixes)
        {
            var shown = JsonSerializer.Serialize(prefix);
            await ExpectAsync($"list {shown}", GetAsync($"/api/v1/files/list?prefix={Uri.EscapeDataString(prefix)}", user), status);
            await ExpectAsync($"count {shown}", GetAsync($"/api/v1/files/count?prefix={Uri.EscapeDataString(prefix)}", user), status);
            await ExpectAsync($"create folder {shown}", PostAsync("/api/v1/files/folders", user, new { prefix }), status);
            await ExpectAsync($"delete folder {shown}", PostAsync("/api/v1/files/delete", user, new { prefixes = new[] { prefix } }), status);
            // A prefix without its '/' is a file's key to move: the keys above cover those.
            if (prefix.EndsWith('/')) await ExpectAsync($"move folder from {shown}", PostAsync("/api/v1/files/move", user, new { from = prefix, to = home + "stolen/" }), status);
            await ExpectAsync($"move folder to {shown}", PostAsync("/api/v1/files/move", user, new { from = home + "dir/", to = prefix }), status);
        }

        // The user's own roots themselves: listed, but never created, deleted or moved whole.
        foreach (var root in new[] { home, $"teams/{mine}/" })
        {
            await ExpectAsync($"delete root {root}", PostAsync("/api/v1/files/delete", user, new { prefixes = new[] { root } }), HttpStatusCode.BadRequest);
            await ExpectAsync($"move root {root}", PostAsync("/api/v1/files/move", user, new { from = root, to = home + "elsewhere/" }), HttpStatusCode.BadRequest);
            await ExpectAsync($"create root {root}", PostAsync("/api/v1/files/folders", user, new { prefix = root }), HttpStatusCode.BadRequest);
        }

        // Another user's upload id with a key of the user's own: S3 ties an upload to its key, the emulator does not.
        await ExpectAsync("parts of my key with their upload id", PostAsync("/api/v1/files/multipart/parts", user, new { key = home + "big.bin", uploadId = theirUpload, partNumbers = new[] { 1 } }), HttpStatusCode.BadRequest);
        await ExpectAsync("list parts of my key with their upload id", GetAsync($"/api/v1/files/multipart/parts?key={Uri.EscapeDataString(home + "big.bin")}&uploadId={Uri.EscapeDataString(theirUpload)}", user), HttpStatusCode.BadRequest);
        await ExpectAsync("complete my key with their upload id", PostAsync("/api/v1/files/multipart/complete", user, new { key = home + "big.bin", uploadId = theirUpload, parts = new[] { new { partNumber = 1, etag = "\"x\"" } } }), HttpStatusCode.BadRequest);
        await ExpectAsync("abort my key with their upload id", PostAsync("/api/v1/files/multipart/abort", user, new { key = home + "big.bin", uploadId = theirUpload }), HttpStatusCode.BadRequest);
        await ExpectAsync("their key with my upload id", PostAsync("/api/v1/files/multipart/abort", user, new { key = theirs + "big.bin", uploadId = myUpload }), HttpStatusCode.Forbidden);
        // Values other than keys.
        await ExpectAsync("a continuation token from nowhere", GetAsync($"/api/v1/files/list?prefix={home}&continuation={new string('x', 3000)}", user), HttpStatusCode.BadRequest);
        await ExpectAsync("max 0", GetAsync($"/api/v1/files/list?prefix={home}&max=0", user), HttpStatusCode.BadRequest);
        await ExpectAsync("a file over 64 MiB in one PUT", PostAsync("/api/v1/files/uploads", user, new { files = new[] { new { key = home + "huge.bin", size = 64L * 1024 * 1024 + 1 } } }), HttpStatusCode.BadRequest);
        await ExpectAsync("a negative size", PostAsync("/api/v1/files/uploads", user, new { files = new[] { new { key = home + "neg.bin", size = -1 } } }), HttpStatusCode.BadRequest);
        await ExpectAsync("a content type with a header in it", PostAsync("/api/v1/files/uploads", user, new { files = new[] { new { key = home + "ct.bin", size = 1, contentType = "text/plain\r\nx-amz-acl: public-read" } } }), HttpStatusCode.BadRequest);
        await ExpectAsync("1001 files", PostAsync("/api/v1/files/uploads", user, new { files = Enumerable.Range(0, 1001).Select(i => new { key = $"{home}{i}.csv", size = 1 }) }), HttpStatusCode.BadRequest);
        await ExpectAsync("part number 0", PostAsync("/api/v1/files/multipart/parts", user, new { key = home + "big.bin", uploadId = myUpload, partNumbers = new[] { 0 } }), HttpStatusCode.BadRequest);
        await ExpectAsync("part number 10001", PostAsync("/api/v1/files/multipart/parts", user, new { key = home + "big.bin", uploadId = myUpload, partNumbers = new[] { 10001 } }), HttpStatusCode.BadRequest);

        Assert.True(failures.Count == 0, $"{failures.Count} refusals went wrong:\n{string.Join('\n', failures)}");
        Assert.Equal(before, (await KeysAsync()).Order(StringComparer.Ordinal));
        using var s3 = Emulator();
        var uploads = (await s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket }, Cancel)).MultipartUploads ?? [];
        Assert.Equal([(theirs + "big.bin", theirUpload), (home + "big.bin", myUpload)], uploads.Select(u => (u.Key, u.UploadId)).OrderBy(u => u.Key != theirs + "big.bin"));
        Assert.Empty((await s3.ListPartsAsync(new ListPartsRequest { BucketName = bucket, Key = theirs + "big.bin", UploadId = theirUpload }, Cancel)).Parts ?? []);
        Assert.DoesNotContain("secret", await AuditAsync(user) ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Credentials_asked_for_with_an_API_token_last_only_a_quarter_of_an_hour()
    {
        var user = await UserAsync();
        var withToken = user with { Roles = [], ApiToken = new ApiTokenGrant("0123456789abcdef", [ApiScopes.Files]) };

        var issued = await OkAsync(GetAsync("/api/v1/aws_credentials", withToken));

        // A revoked token cannot take back what it was given, so what it is given ends soon (STS's shortest).
        Assert.InRange(issued.GetProperty("expiration").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(10), DateTimeOffset.UtcNow.AddMinutes(16));
        var inBrowser = await OkAsync(GetAsync("/api/v1/aws_credentials", user));
        Assert.InRange(inBrowser.GetProperty("expiration").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(50), DateTimeOffset.UtcNow.AddMinutes(70));
    }

    [Fact]
    public async Task Credentials_for_scripts_reach_the_users_own_folders_through_the_gateway_and_nobody_elses()
    {
        var user = await UserAsync();
        var other = await UserAsync();
        var team = await TeamAsync(user);
        var home = $"home/{user.Hash}/";
        await UploadAsync(other, ($"home/{other.Hash}/secret.csv", [9]));

        var issued = await OkAsync(GetAsync("/api/v1/aws_credentials", user));
        Assert.Equal(bucket, issued.GetProperty("bucket").GetString());
        Assert.Equal(MotoServer.Region, issued.GetProperty("region").GetString());
        Assert.Equal([home, $"teams/{team}/"], issued.GetProperty("prefixes").EnumerateArray().Select(p => p.GetString()));
        Assert.InRange(issued.GetProperty("expiration").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(50), DateTimeOffset.UtcNow.AddMinutes(70));
        var endpoint = issued.GetProperty("endpoint").GetString()!;
        Assert.StartsWith("http://127.0.0.1:", endpoint);

        using var asUser = new AmazonS3Client(
            new Amazon.Runtime.SessionAWSCredentials(issued.GetProperty("accessKeyId").GetString(), issued.GetProperty("secretAccessKey").GetString(), issued.GetProperty("sessionToken").GetString()),
            new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = MotoServer.Region });
        await asUser.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = home + "from-script.txt", ContentBody = "hello" }, Cancel);
        await asUser.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = $"teams/{team}/from-script.txt", ContentBody = "team" }, Cancel);
        using (var read = await asUser.GetObjectAsync(bucket, home + "from-script.txt", Cancel))
            Assert.Equal("hello", await new StreamReader(read.ResponseStream).ReadToEndAsync(Cancel));
        var listed = await OkAsync(GetAsync($"/api/v1/files/list?prefix={home}", user));
        Assert.Equal([home + "from-script.txt"], listed.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("key").GetString()));

        foreach (var attempt in new Func<Task>[]
        {
            () => asUser.GetObjectAsync(bucket, $"home/{other.Hash}/secret.csv", Cancel),
            () => asUser.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = $"home/{other.Hash}/planted.txt", ContentBody = "x" }, Cancel),
            () => asUser.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = $"home/{other.Hash}/" }, Cancel),
            () => asUser.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "home/" }, Cancel),
            () => asUser.DeleteObjectAsync(bucket, $"home/{other.Hash}/secret.csv", Cancel),
        })
        {
            var refused = await Assert.ThrowsAsync<AmazonS3Exception>(attempt);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        Assert.Equal([$"home/{other.Hash}/secret.csv"], await KeysAsync($"home/{other.Hash}/"));

        // Deactivating the user ends them at once.
        await web.ScalarAsync<object>("UPDATE users SET deactivated_at = now(), deactivated_by = 'test' WHERE id = $1", user.UserId);
        await App().Services.GetRequiredService<DataWorkspace.Web.Files.FilesCredentials>().EndAsync(user.UserId, user.Email, DataWorkspace.Web.Audit.Actor.System, Cancel);
        var ended = await Assert.ThrowsAsync<AmazonS3Exception>(() => asUser.GetObjectAsync(bucket, home + "from-script.txt", Cancel));
        Assert.Equal(HttpStatusCode.Forbidden, ended.StatusCode);
    }

    [Fact]
    public async Task A_tool_reads_what_was_uploaded_here_and_its_files_are_listed_and_downloaded_here()
    {
        var user = await UserAsync();
        await web.ScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test')", user.UserId);
        var home = $"home/{user.Hash}/";
        await UploadAsync(user, (home + "from the page é.csv", Encoding.UTF8.GetBytes("a,b\n1,2\n")));

        var started = await OkAsync(PostAsync("/api/v1/tools/s3tool/start", user, new { }), HttpStatusCode.Accepted);
        var id = started.GetProperty("id").GetGuid();
        await App().Services.GetRequiredService<DataWorkspace.Web.Tools.ToolInstances>().SpawnedAsync(id);
        var tool = new Uri((await web.ScalarAsync<string>("SELECT address FROM tool_instances WHERE id = $1 AND state = 'Running'", id))!);

        var read = await S3Tool.AskAsync(browser, tool, "get", Cancel, ("key", home + "from the page é.csv"));
        Assert.True(read.Ok, read.ToString());
        Assert.Equal("a,b\n1,2\n", read.Body);
        var written = await S3Tool.AskAsync(browser, tool, "put", Cancel, ("key", home + "results/from the tool.txt"), ("body", "written by the tool"));
        Assert.True(written.Ok, written.ToString());

        var listing = await OkAsync(GetAsync($"/api/v1/files/list?prefix={Uri.EscapeDataString(home + "results/")}", user));
        Assert.Equal([home + "results/from the tool.txt"], listing.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("key").GetString()));
        var download = await OkAsync(PostAsync("/api/v1/files/download", user, new { key = home + "results/from the tool.txt" }));
        Assert.Equal("written by the tool", await browser.GetStringAsync(download.GetProperty("url").GetString(), Cancel));
    }

    [Fact]
    public async Task When_s3_does_not_answer_the_api_says_so_and_to_try_again()
    {
        var user = await UserAsync();
        // The web app's own credentials are there (as a task role gives them); only S3 does not answer.
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", MotoServer.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", MotoServer.SecretAccessKey);
        await using var down = web.Factory.WithWebHostBuilder(host => host
            .UseSetting("Tools:LocalWorkDirectory", workDirectory)
            .UseSetting("Storage:Bucket", bucket)
            .UseSetting("Aws:ServiceUrl", $"http://127.0.0.1:{Ports.Free()}/")
            .UseSetting("Aws:Region", MotoServer.Region));
        using var client = down.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/files/list?prefix=home/{user.Hash}/");
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
        using var response = await client.SendAsync(request, Cancel);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Try again in a minute", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Theory]
    [InlineData("http://dataworkspace.localhost:8000", true)]
    [InlineData("https://dataworkspace.example.com", true)]
    [InlineData("https://dataworkspace.example.com/", false)]
    [InlineData("https://dataworkspace.example.com/files", false)]
    [InlineData("dataworkspace.example.com", false)]
    [InlineData("*", false)]
    public void The_bucket_is_opened_only_to_origins_named_exactly(string origin, bool valid)
    {
        var options = new StorageOptions { Bucket = "files", BrowserOrigins = [origin] };
        Assert.Equal(valid, !options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).Any());
    }

    [Fact]
    public async Task Without_a_files_bucket_the_files_api_says_so()
    {
        var user = await UserAsync();
        foreach (var path in new[] { "/api/v1/files/roots", "/api/v1/aws_credentials" })
        {
            using var response = await web.GetAsync(path, user);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("Storage:Bucket", await response.Content.ReadAsStringAsync(Cancel));
        }
    }

    public async ValueTask DisposeAsync()
    {
        browser.Dispose();
        if (app is not null) await app.DisposeAsync();
        TestDirectories.Delete(workDirectory);
    }
}
