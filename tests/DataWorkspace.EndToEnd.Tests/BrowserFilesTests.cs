using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using DataWorkspace.Contracts;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// "Your files" in a real browser through the proxy, with uploads and downloads going straight to the local S3
/// emulator: Tom uploads a folder of oddly named files, downloads and previews them, makes a folder, moves a file into
/// it and deletes the rest; a large upload survives the network going away; and his tool reads a file he dropped on the
/// page and writes one the page then lists.
/// </summary>
public sealed class BrowserFilesTests(PlatformFixture fixture) : BrowserTest
{
    private const string Tom = "tom.evans@partner.example";
    private const string Bucket = "dataworkspace-local";
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_user_uploads_a_folder_of_odd_names_downloads_previews_moves_and_deletes()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var local = Directory.CreateTempSubdirectory("dw-files-");
        try
        {
            const string folderName = "Odd names ü & co";
            var csv = "region,exports,year\n" + string.Concat(Enumerable.Range(1, 30).Select(i => $"Region {i},{i * 1000},2024\n"));
            var files = new Dictionary<string, byte[]>
            {
                ["naïve café.csv"] = Encoding.UTF8.GetBytes(csv),
                ["report #1 (final).txt"] = Encoding.UTF8.GetBytes("the final report\n"),
                ["what? 50% & more+.txt"] = RandomNumberGenerator.GetBytes(3000),
                ["日本語 ファイル.txt"] = Encoding.UTF8.GetBytes("こんにちは\n"),
                ["empty"] = [],
            };
            var picked = Directory.CreateDirectory(Path.Combine(local.FullName, folderName));
            foreach (var (name, content) in files) await File.WriteAllBytesAsync(Path.Combine(picked.FullName, name), content, Cancel);

            var (context, page, problems) = await SignedInAsync(new() { AcceptDownloads = true });
            await using var _ = context;
            await OpenYourFilesAsync(page);
            var home = await HomeAsync();
            await Assertions.Expect(page.GetByTestId("root-home")).ToHaveAttributeAsync("aria-current", "true");
            await Browser.AssertAccessibleAsync(page);
            // Within the page width like every other page.
            await page.SetViewportSizeAsync(1200, 800);
            var main = (await page.Locator("#main-content").BoundingBoxAsync())!;
            Assert.True(main.X >= 30 && main.Width <= 960, $"Your files' main column is {main.Width}px wide from {main.X}px");

            // A folder of its own for this run, made with New folder.
            var testFolder = $"files test {suffix}";
            await CreateFolderAsync(page, testFolder);
            await OpenFolderAsync(page, testFolder);
            await Assertions.Expect(page.GetByTestId("empty")).ToBeVisibleAsync();

            // The folder picker (webkitdirectory) uploads the folder with its own name and every file in it.
            var chooser = await page.RunAndWaitForFileChooserAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Upload a folder" }).ClickAsync());
            await chooser.SetFilesAsync(picked.FullName);
            var uploads = page.GetByTestId("queue").GetByTestId("upload");
            await Assertions.Expect(uploads).ToHaveCountAsync(files.Count);
            await Assertions.Expect(page.GetByTestId("overall-text")).ToContainTextAsync($"{files.Count} of {files.Count} files uploaded", new() { Timeout = 30_000 });
            await Assertions.Expect(uploads.GetByTestId("upload-state")).ToHaveTextAsync(Enumerable.Repeat("Uploaded", files.Count).ToArray());
            await Browser.AssertAccessibleAsync(page);
            await Browser.SaveScreenshotAsync(page, "files-1-uploaded");

            var folder = $"{home}{testFolder}/{folderName}/";
            await Assertions.Expect(Row(page, "folder-row", folder)).ToBeVisibleAsync();
            await OpenFolderAsync(page, folderName);
            foreach (var (name, content) in files)
            {
                var row = Row(page, "file-row", folder + name);
                await Assertions.Expect(row.Locator("td").Nth(1)).ToHaveTextAsync(name);
                if (content.Length == 0) await Assertions.Expect(row.Locator("td").Nth(2)).ToHaveTextAsync("0 bytes");
            }
            await Browser.SaveScreenshotAsync(page, "files-2-listed");

            // A download is the object's own bytes, under its own name.
            foreach (var name in new[] { "what? 50% & more+.txt", "empty" })
            {
                var download = await page.RunAndWaitForDownloadAsync(() => Row(page, "file-row", folder + name).GetByRole(AriaRole.Button, new() { Name = $"Download {name}" }).ClickAsync());
                // Chromium saves a name with characters Windows cannot store ('?') with '_' in their place.
                Assert.Equal(name.Replace('?', '_'), download.SuggestedFilename);
                Assert.Equal(files[name], await File.ReadAllBytesAsync(await download.PathAsync(), Cancel));
            }

            // A CSV previews as a table: its header and the first 20 rows.
            await Row(page, "file-row", folder + "naïve café.csv").GetByRole(AriaRole.Button, new() { Name = "Preview naïve café.csv" }).ClickAsync();
            var preview = page.GetByTestId("preview");
            await Assertions.Expect(preview.GetByTestId("preview-heading")).ToHaveTextAsync("Preview of naïve café.csv");
            await Assertions.Expect(preview.Locator("table thead th")).ToHaveTextAsync(["region", "exports", "year"]);
            await Assertions.Expect(preview.Locator("table tbody tr")).ToHaveCountAsync(20);
            await Assertions.Expect(preview.Locator("table tbody tr").First).ToHaveTextAsync("Region 110002024");
            await Assertions.Expect(preview.GetByTestId("preview-note")).ToContainTextAsync("the first 20 rows of naïve café.csv");
            await Browser.AssertAccessibleAsync(page);
            await Browser.SaveScreenshotAsync(page, "files-3-preview");
            await page.GetByRole(AriaRole.Button, new() { Name = "Close preview" }).ClickAsync();

            // A new folder next to the uploaded one, and a file moved into it.
            await page.GetByTestId("breadcrumbs").GetByRole(AriaRole.Link, new() { Name = testFolder }).ClickAsync();
            await CreateFolderAsync(page, "archive");
            await OpenFolderAsync(page, folderName);
            const string moved = "report #1 (final).txt";
            await Row(page, "file-row", folder + moved).GetByRole(AriaRole.Button, new() { Name = $"Rename or move {moved}" }).ClickAsync();
            await Browser.AssertAccessibleAsync(page);
            await page.GetByLabel("New path").FillAsync($"{testFolder}/archive/{moved}");
            await page.GetByTestId("move-confirm").ClickAsync();
            await Assertions.Expect(page.GetByTestId("files-status")).ToContainTextAsync($"Moved {moved} to");
            await Assertions.Expect(Row(page, "file-row", folder + moved)).ToHaveCountAsync(0);
            await Assertions.Expect(page.GetByTestId("file-row")).ToHaveCountAsync(files.Count - 1);
            await page.GetByTestId("breadcrumbs").GetByRole(AriaRole.Link, new() { Name = testFolder }).ClickAsync();
            await OpenFolderAsync(page, "archive");
            await Assertions.Expect(Row(page, "file-row", $"{home}{testFolder}/archive/{moved}")).ToBeVisibleAsync();
            await Browser.SaveScreenshotAsync(page, "files-4-moved");

            // Deleting the uploaded folder says first how much goes with it.
            await page.GetByTestId("breadcrumbs").GetByRole(AriaRole.Link, new() { Name = testFolder }).ClickAsync();
            await Row(page, "folder-row", folder).GetByRole(AriaRole.Button, new() { Name = $"Delete {folderName}" }).ClickAsync();
            var left = files.Where(f => f.Key != moved).Sum(f => f.Value.Length);
            await Assertions.Expect(page.GetByTestId("delete-summary")).ToHaveTextAsync(
                new Regex($"^Delete the folder {Regex.Escape(folderName)} and everything in it \\({files.Count - 1} files in 1 folder, {Regex.Escape(Bytes(left))}\\)\\? This cannot be undone\\.$"));
            await Browser.AssertAccessibleAsync(page);
            await Browser.SaveScreenshotAsync(page, "files-5-delete-confirmation");
            await page.GetByTestId("delete-confirm").ClickAsync();
            await Assertions.Expect(page.GetByTestId("files-status")).ToHaveTextAsync($"Deleted {files.Count - 1} files in 1 folder.");
            await Assertions.Expect(Row(page, "folder-row", folder)).ToHaveCountAsync(0);
            await Assertions.Expect(Row(page, "folder-row", $"{home}{testFolder}/archive/")).ToBeVisibleAsync();
            Assert.Null(await EmulatorObjectAsync(folder + "naïve café.csv"));

            Assert.Empty(problems);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_large_upload_shows_progress_survives_the_network_going_away_and_arrives_whole()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var local = Directory.CreateTempSubdirectory("dw-files-");
        try
        {
            const string name = "big upload 200 MB.bin";
            var path = Path.Combine(local.FullName, name);
            byte[] expectedHash;
            await using (var file = File.Create(path))
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var block = new byte[1 << 20];
                for (var i = 0; i < 200; i++)
                {
                    RandomNumberGenerator.Fill(block);
                    hash.AppendData(block);
                    await file.WriteAsync(block, Cancel);
                }
                expectedHash = hash.GetHashAndReset();
            }

            var (context, page, problems) = await SignedInAsync(new());
            await using var _ = context;
            await OpenYourFilesAsync(page);
            var home = await HomeAsync();
            var testFolder = $"large upload {suffix}";
            await CreateFolderAsync(page, testFolder);
            await OpenFolderAsync(page, testFolder);
            var key = $"{home}{testFolder}/{name}";

            // The first two parts reach S3; after them the file store is out of reach until the network comes back.
            var partsLetThrough = 0;
            var cutOff = new TaskCompletionSource();
            await page.RouteAsync(url => url.Contains("partNumber=", StringComparison.Ordinal), async route =>
            {
                if (route.Request.Method == "PUT" && Interlocked.Increment(ref partsLetThrough) > 2)
                {
                    cutOff.TrySetResult();
                    await route.AbortAsync("internetdisconnected");
                }
                else
                {
                    await route.ContinueAsync();
                }
            });

            var chooser = await page.RunAndWaitForFileChooserAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Upload files" }).ClickAsync());
            await chooser.SetFilesAsync(path);
            var upload = page.GetByTestId("queue").GetByTestId("upload");
            await Assertions.Expect(upload).ToHaveAttributeAsync("data-key", key);
            await cutOff.Task.WaitAsync(TimeSpan.FromSeconds(60), Cancel);
            // The page says it cannot reach the store and will try again, with the parts sent so far shown as progress.
            await Assertions.Expect(upload.GetByTestId("upload-text")).ToHaveTextAsync(
                new Regex(@"^[1-9]\d?% of 200 MB\. Could not reach the file store \(.*\): trying again in \d+ s\.$"), new() { Timeout = 60_000 });
            await Assertions.Expect(upload.GetByTestId("upload-state")).ToHaveTextAsync("Uploading");
            Assert.True(await upload.GetByTestId("upload-progress").EvaluateAsync<double>("bar => bar.value") > 0);
            // Then the whole network goes for a few seconds, the portal's API with it.
            await context.SetOfflineAsync(true);
            await Browser.SaveScreenshotAsync(page, "files-6-large-upload-interrupted");
            await Task.Delay(TimeSpan.FromSeconds(3), Cancel);

            await context.SetOfflineAsync(false);
            await page.UnrouteAllAsync();
            await Assertions.Expect(upload.GetByTestId("upload-state")).ToHaveTextAsync("Uploaded", new() { Timeout = 180_000 });
            await Assertions.Expect(page.GetByTestId("overall-text")).ToContainTextAsync("1 of 1 file uploaded");
            await Assertions.Expect(Row(page, "file-row", key).Locator("td").Nth(2)).ToHaveTextAsync("200 MB");
            await Browser.SaveScreenshotAsync(page, "files-7-large-upload-done");

            var stored = await EmulatorObjectAsync(key);
            Assert.NotNull(stored);
            Assert.Equal(200L << 20, stored.Value.Size);
            Assert.Equal(Convert.ToHexString(expectedHash), Convert.ToHexString(stored.Value.Sha256));

            Assert.Empty(problems);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_tool_reads_a_file_uploaded_on_the_page_and_the_page_lists_a_file_the_tool_wrote()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var (context, page, problems) = await SignedInAsync(new());
        await using var _ = context;
        var id = (await fixture.Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", Tom))!;
        await fixture.Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", id);
        var portal = fixture.Platform.PortalUrl;
        var tool = new Uri($"http://files-{UserHash.Of(id)}.{portal.Host}:{portal.Port}/");
        await OpenYourFilesAsync(page);
        var home = await HomeAsync();
        var testFolder = $"shared with a tool {suffix}";
        await CreateFolderAsync(page, testFolder);
        await OpenFolderAsync(page, testFolder);

        // Dropped onto the page, as from the desktop.
        const string fromPage = "from the page é #1.txt";
        var dropped = await page.EvaluateHandleAsync(
            "([name, text]) => { const transfer = new DataTransfer(); transfer.items.add(new File([text], name, { type: 'text/plain' })); return transfer; }",
            new[] { fromPage, $"written in the browser {suffix}" });
        foreach (var type in new[] { "dragenter", "dragover", "drop" })
            await page.GetByTestId("drop-zone").DispatchEventAsync(type, new Dictionary<string, object> { ["dataTransfer"] = dropped });
        await Assertions.Expect(page.GetByTestId("queue").GetByTestId("upload-state")).ToHaveTextAsync("Uploaded");

        // The tool, started by the Local launcher and reached through the proxy, sees the same files.
        using var client = fixture.Platform.Client();
        await client.SignInAsync(Tom, cancellationToken: Cancel);
        await StartToolAsync(client, tool);
        var got = await S3Tool.AskAsync(client.Http, tool, "get", Cancel, ("key", $"{home}{testFolder}/{fromPage}"));
        Assert.Equal($"written in the browser {suffix}", got.Body);

        const string fromTool = "from the tool + more.txt";
        var put = await S3Tool.AskAsync(client.Http, tool, "put", Cancel, ("key", $"{home}{testFolder}/{fromTool}"), ("body", "written by the tool"));
        Assert.True(put.Ok, put.ToString());
        await page.ReloadAsync();
        var row = Row(page, "file-row", $"{home}{testFolder}/{fromTool}");
        await Assertions.Expect(row.Locator("td").Nth(1)).ToHaveTextAsync(fromTool);
        await Assertions.Expect(row.Locator("td").Nth(2)).ToHaveTextAsync("19 bytes");
        await Assertions.Expect(page.GetByTestId("file-row")).ToHaveCountAsync(2);
        await Browser.SaveScreenshotAsync(page, "files-8-written-by-a-tool");

        Assert.Empty(problems);

        // Stopped again, so its home folder's sync does not run on beside the other tests' uploads and deletes in Tom's home.
        using var stop = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tools/files/stop") { Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json") };
        stop.Headers.TryAddWithoutValidation("Origin", fixture.Platform.PortalUrl.GetLeftPart(UriPartial.Authority));
        using var stopped = await client.Http.SendAsync(stop, Cancel);
        Assert.True(stopped.IsSuccessStatusCode, $"stop: {(int)stopped.StatusCode} {await stopped.Content.ReadAsStringAsync(Cancel)}");
        // Its s3sync sends its last changes after the stop answers; the other tests start once it has gone.
        var toolHome = Path.Combine(fixture.Platform.DataDirectory, "tools", $"files-{UserHash.Of(id)}");
        var until = DateTime.UtcNow.AddMinutes(1);
        while (SidecarProcesses.RunFor(toolHome))
        {
            Assert.True(DateTime.UtcNow < until, "the tool's s3sync was still running a minute after the tool stopped");
            await Task.Delay(200, Cancel);
        }
    }

    [Fact]
    public async Task Uploading_names_that_are_already_there_asks_first_to_replace_skip_or_keep_both()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var local = Directory.CreateTempSubdirectory("dw-files-");
        try
        {
            string Write(string folder, string name, string text)
            {
                var path = Path.Combine(Directory.CreateDirectory(Path.Combine(local.FullName, folder)).FullName, name);
                File.WriteAllText(path, text);
                return path;
            }

            var (context, page, problems) = await SignedInAsync(new());
            await using var _ = context;
            await OpenYourFilesAsync(page);
            var home = await HomeAsync();
            var testFolder = $"same names {suffix}";
            await CreateFolderAsync(page, testFolder);
            await OpenFolderAsync(page, testFolder);
            var folder = $"{home}{testFolder}/";
            var uploads = page.GetByTestId("queue").GetByTestId("upload");
            var panel = page.GetByTestId("exists-panel");

            async Task PickAsync(params string[] paths)
            {
                var chooser = await page.RunAndWaitForFileChooserAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Upload files" }).ClickAsync());
                await chooser.SetFilesAsync(paths);
            }

            async Task ClearAsync()
            {
                await page.GetByTestId("clear-finished").ClickAsync();
                await Assertions.Expect(uploads).ToHaveCountAsync(0);
            }

            async Task<string?> StoredAsync(string name) =>
                await EmulatorObjectAsync(folder + name) is { } stored ? Convert.ToHexString(stored.Sha256) : null;
            static string Sha(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

            await PickAsync(Write("old", "a.csv", "old a"), Write("old", "b.csv", "old b"), Write("old", "c.csv", "old c"));
            await Assertions.Expect(page.GetByTestId("overall-text")).ToContainTextAsync("3 of 3 files uploaded");
            await Assertions.Expect(panel).ToBeHiddenAsync();
            await ClearAsync();

            // A name that is taken waits for the user; a new one beside it goes straight up.
            await PickAsync(Write("new", "a.csv", "new a"), Write("new", "fresh.csv", "fresh"));
            await Assertions.Expect(panel.GetByTestId("exists-summary")).ToHaveTextAsync(
                $"A file of the same name is already there: {testFolder}/a.csv. Replace it, skip it, or keep both (the new one gets a number)?");
            await Assertions.Expect(uploads.GetByTestId("upload-state")).ToHaveTextAsync(["Already there", "Uploaded"]);
            Assert.Equal(Sha("old a"), await StoredAsync("a.csv"));
            await Browser.SaveScreenshotAsync(page, "files-9-already-there");
            await panel.GetByRole(AriaRole.Button, new() { Name = "Replace" }).ClickAsync();
            await Assertions.Expect(uploads.GetByTestId("upload-state")).ToHaveTextAsync(["Uploaded", "Uploaded"]);
            await Assertions.Expect(panel).ToBeHiddenAsync();
            Assert.Equal(Sha("new a"), await StoredAsync("a.csv"));
            await ClearAsync();

            await PickAsync(Write("new", "b.csv", "new b"));
            await panel.GetByRole(AriaRole.Button, new() { Name = "Skip" }).ClickAsync();
            await Assertions.Expect(uploads.GetByTestId("upload-state")).ToHaveTextAsync("Skipped");
            Assert.Equal(Sha("old b"), await StoredAsync("b.csv"));
            await ClearAsync();

            // Keeping both gives the new file the first number not taken.
            await PickAsync(Write("new", "c.csv", "new c"));
            await panel.GetByRole(AriaRole.Button, new() { Name = "Keep both" }).ClickAsync();
            await Assertions.Expect(uploads).ToHaveAttributeAsync("data-key", folder + "c (1).csv");
            await Assertions.Expect(uploads.GetByTestId("upload-state")).ToHaveTextAsync("Uploaded");
            await ClearAsync();
            await PickAsync(Write("newer", "c.csv", "newer c"));
            await panel.GetByRole(AriaRole.Button, new() { Name = "Keep both" }).ClickAsync();
            await Assertions.Expect(uploads).ToHaveAttributeAsync("data-key", folder + "c (2).csv");
            await Assertions.Expect(uploads.GetByTestId("upload-state")).ToHaveTextAsync("Uploaded");
            Assert.Equal(Sha("old c"), await StoredAsync("c.csv"));
            Assert.Equal(Sha("new c"), await StoredAsync("c (1).csv"));
            Assert.Equal(Sha("newer c"), await StoredAsync("c (2).csv"));
            await Assertions.Expect(Row(page, "file-row", folder + "c (2).csv")).ToBeVisibleAsync();
            Assert.Empty(problems);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    private async Task<(IBrowserContext Context, IPage Page, List<string> Problems)> SignedInAsync(BrowserNewContextOptions options)
    {
        var context = await Chromium.NewContextAsync(options);
        var page = await context.NewPageAsync();
        // Uploads and previews go to S3's own origin: a request the portal's CSP blocks is a console error.
        var problems = Browser.WatchForProblems(page);
        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Tom Evans") }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("welcome")).ToBeVisibleAsync();
        return (context, page, problems);
    }

    private static async Task OpenYourFilesAsync(IPage page)
    {
        await page.GetByRole(AriaRole.Link, new() { Name = "Your files" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Your files", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("files-status")).ToContainTextAsync("Your home folder:");
    }

    private async Task<string> HomeAsync()
    {
        var id = (await fixture.Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", Tom))!;
        return $"home/{UserHash.Of(id)}/";
    }

    private static async Task CreateFolderAsync(IPage page, string name)
    {
        await page.GetByRole(AriaRole.Button, new() { Name = "New folder" }).ClickAsync();
        await page.GetByLabel("Name of the new folder").FillAsync(name);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create folder" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("files-status")).ToContainTextAsync($"Folder {name} created.");
        await Assertions.Expect(page.GetByTestId("listing-body").GetByRole(AriaRole.Link, new() { Name = name + "/", Exact = true })).ToBeVisibleAsync();
    }

    private static async Task OpenFolderAsync(IPage page, string name)
    {
        await page.GetByTestId("listing-body").GetByRole(AriaRole.Link, new() { Name = name + "/", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("breadcrumbs").Locator("[aria-current=page]")).ToHaveTextAsync(name);
        await Assertions.Expect(page.GetByTestId("files-status")).ToContainTextAsync($"{name}: ");
    }

    /// <summary>A size as the page writes it: bytes below 1 KB, then KB, MB, GB with at most one decimal.</summary>
    private static string Bytes(long size)
    {
        if (size < 1024) return $"{size:N0} {(size == 1 ? "byte" : "bytes")}";
        string[] units = ["KB", "MB", "GB", "TB"];
        var value = size / 1024.0;
        var unit = 0;
        for (; value >= 1024 && unit < units.Length - 1; unit++) value /= 1024;
        return value.ToString("#,0.#", System.Globalization.CultureInfo.InvariantCulture) + " " + units[unit];
    }

    private static ILocator Row(IPage page, string testId, string key) =>
        page.Locator($"[data-testid=\"{testId}\"][data-key=\"{key.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"]");

    private static async Task StartToolAsync(PortalClient client, Uri tool)
    {
        // The first visit starts the tool (a progress page, 202) until it answers itself.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var response = await client.Http.GetAsync(tool, Cancel);
            if (response.StatusCode == System.Net.HttpStatusCode.OK) return;
            Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
            Assert.True(DateTime.UtcNow < deadline, "the files tool did not start within 60 s");
            await Task.Delay(250, Cancel);
        }
    }

    /// <summary>The object's size and SHA-256 as the emulator holds it (it checks no signature), or null when absent.</summary>
    private async Task<(long Size, byte[] Sha256)?> EmulatorObjectAsync(string key)
    {
        var path = Bucket + "/" + string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        using var get = new HttpRequestMessage(HttpMethod.Get, new Uri(fixture.Platform.App.GetEndpoint("aws", "http"), path));
        // Any Authorization will do: without one the emulator refuses objects with an ACL (those a form or a PUT stored).
        get.Headers.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-2/s3/aws4_request, SignedHeaders=host, Signature=0");
        using var response = await http.SendAsync(get, HttpCompletionOption.ResponseHeadersRead, Cancel);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(Cancel);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long size = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, Cancel)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            size += read;
        }
        return (size, hash.GetHashAndReset());
    }

    [Fact]
    public async Task A_session_that_expires_mid_upload_asks_to_sign_in_again_and_the_queue_carries_on_after_signing_in_in_another_tab()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var local = Directory.CreateTempSubdirectory("dw-files-");
        try
        {
            const string big = "big 70 MB.bin";
            var bigHash = await RandomFileAsync(Path.Combine(local.FullName, big), 70);
            var small = new[] { "later one.txt", "later two.txt" };
            foreach (var name in small) await File.WriteAllTextAsync(Path.Combine(local.FullName, name), $"added while signed out: {name}\n", Cancel);

            var (context, page, problems) = await SignedInAsync(new());
            await using var _ = context;
            await OpenYourFilesAsync(page);
            var home = await HomeAsync();
            var testFolder = $"session expiry {suffix}";
            await CreateFolderAsync(page, testFolder);
            await OpenFolderAsync(page, testFolder);
            var folder = $"{home}{testFolder}/";

            // The session ends (its cookies gone, as when it times out) while the first part of the large file is on its way.
            var signedOut = new TaskCompletionSource();
            await page.RouteAsync(url => url.Contains("partNumber=", StringComparison.Ordinal), async route =>
            {
                if (route.Request.Method == "PUT" && !signedOut.Task.IsCompleted)
                {
                    await context.ClearCookiesAsync();
                    signedOut.TrySetResult();
                }
                await route.ContinueAsync();
            });
            var chooser = await page.RunAndWaitForFileChooserAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Upload files" }).ClickAsync());
            await chooser.SetFilesAsync(Path.Combine(local.FullName, big));
            await signedOut.Task.WaitAsync(TimeSpan.FromSeconds(60), Cancel);

            // More files join the queue meanwhile.
            chooser = await page.RunAndWaitForFileChooserAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Upload files" }).ClickAsync());
            await chooser.SetFilesAsync(small.Select(name => Path.Combine(local.FullName, name)));

            // The page asks the user to sign in again, and nothing in the queue is lost or marked failed.
            await Assertions.Expect(page.GetByTestId("session-expired")).ToBeVisibleAsync(new() { Timeout = 120_000 });
            await Assertions.Expect(page.GetByTestId("session-expired")).ToContainTextAsync("sign in again in another tab, then press Resume");
            var uploads = page.GetByTestId("queue").GetByTestId("upload");
            await Assertions.Expect(uploads).ToHaveCountAsync(3);
            foreach (var name in small.Prepend(big))
            {
                await Assertions.Expect(Row(page, "upload", folder + name).GetByTestId("upload-state")).ToHaveTextAsync("Paused", new() { Timeout = 120_000 });
                await Assertions.Expect(Row(page, "upload", folder + name).GetByTestId("upload-text")).ToContainTextAsync("Waiting for you to sign in again.");
            }
            await Assertions.Expect(uploads.GetByTestId("upload-state").Filter(new() { HasText = "Not uploaded" })).ToHaveCountAsync(0);
            await Assertions.Expect(page.GetByTestId("resume")).ToBeVisibleAsync();
            Assert.Null(await EmulatorObjectAsync(folder + big));
            await Browser.SaveScreenshotAsync(page, "files-9-session-expired");

            // Signed in again in another tab of the same browser, then Resume: the whole queue goes up.
            var tab = await context.NewPageAsync();
            await tab.GotoAsync(fixture.Platform.PortalUrl.ToString());
            await tab.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Tom Evans") }).ClickAsync();
            await Assertions.Expect(tab.GetByTestId("welcome")).ToBeVisibleAsync();
            await tab.CloseAsync();
            await page.UnrouteAllAsync();
            await page.GetByTestId("resume").ClickAsync();

            await Assertions.Expect(uploads.GetByTestId("upload-state")).ToHaveTextAsync(["Uploaded", "Uploaded", "Uploaded"], new() { Timeout = 180_000 });
            await Assertions.Expect(page.GetByTestId("overall-text")).ToContainTextAsync("3 of 3 files uploaded");
            await Assertions.Expect(page.GetByTestId("session-expired")).ToBeHiddenAsync();
            var stored = await EmulatorObjectAsync(folder + big);
            Assert.NotNull(stored);
            Assert.Equal(Convert.ToHexString(bigHash), Convert.ToHexString(stored.Value.Sha256));
            Assert.Equal([folder + big, .. small.Select(name => folder + name)], await EmulatorKeysAsync(folder));
            await Assertions.Expect(page.GetByTestId("file-row")).ToHaveCountAsync(3);

            Assert.Empty(problems);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_folder_with_sub_folders_keeps_them_new_names_are_stored_composed_and_a_tools_decomposed_names_stay_reachable()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var local = Directory.CreateTempSubdirectory("dw-files-");
        try
        {
            // "café" as the file system of a Mac writes it: "e" and a combining accent (NFD).
            const string decomposed = "cafe\u0301 notes.txt";
            const string composed = "caf\u00e9 notes.txt";
            const string top = "Survey 2025";
            var files = new Dictionary<string, string>
            {
                [decomposed] = "notes\n",
                ["regions/readme.txt"] = "two regions\n",
                ["regions/north/data.csv"] = "id,value\n1,10\n",
                ["regions/south/data.csv"] = "id,value\n2,20\n",
            };
            foreach (var (path, text) in files)
            {
                var full = Path.Combine(local.FullName, top, path);
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                await File.WriteAllTextAsync(full, text, Cancel);
            }

            var (context, page, problems) = await SignedInAsync(new());
            await using var _ = context;
            await OpenYourFilesAsync(page);
            var home = await HomeAsync();
            var testFolder = $"folders and unicode {suffix}";
            await CreateFolderAsync(page, testFolder);
            await OpenFolderAsync(page, testFolder);
            var survey = $"{home}{testFolder}/{top}/";

            // Chromium cannot be made to drop a real folder here (synthetic drops carry files only, and CDP's drag events
            // reach no page in headless Chromium), so the folder goes up through the folder picker.
            var chooser = await page.RunAndWaitForFileChooserAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Upload a folder" }).ClickAsync());
            await chooser.SetFilesAsync(Path.Combine(local.FullName, top));
            await Assertions.Expect(page.GetByTestId("overall-text")).ToContainTextAsync($"{files.Count} of {files.Count} files uploaded", new() { Timeout = 60_000 });

            await OpenFolderAsync(page, top);
            await Assertions.Expect(Row(page, "folder-row", survey + "regions/")).ToBeVisibleAsync();
            await Assertions.Expect(Row(page, "file-row", survey + composed).Locator("td").Nth(1)).ToHaveTextAsync(composed);
            Assert.Equal([.. new[] { composed }.Concat(files.Keys.Skip(1)).Select(path => survey + path).Order(StringComparer.Ordinal)], await EmulatorKeysAsync(survey));
            await OpenFolderAsync(page, "regions");
            await Assertions.Expect(page.GetByTestId("folder-row")).ToHaveCountAsync(2);
            await Assertions.Expect(Row(page, "folder-row", survey + "regions/north/")).ToBeVisibleAsync();
            await Assertions.Expect(Row(page, "folder-row", survey + "regions/south/")).ToBeVisibleAsync();
            await Assertions.Expect(Row(page, "file-row", survey + "regions/readme.txt")).ToBeVisibleAsync();
            await OpenFolderAsync(page, "north");
            await Assertions.Expect(Row(page, "file-row", survey + "regions/north/data.csv")).ToBeVisibleAsync();

            // A new folder typed in NFD is made in NFC.
            await page.GetByTestId("breadcrumbs").GetByRole(AriaRole.Link, new() { Name = testFolder }).ClickAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "New folder" }).ClickAsync();
            await page.GetByLabel("Name of the new folder").FillAsync("re\u0301sume\u0301s");
            await page.GetByRole(AriaRole.Button, new() { Name = "Create folder" }).ClickAsync();
            await Assertions.Expect(Row(page, "folder-row", $"{home}{testFolder}/r\u00e9sum\u00e9s/")).ToBeVisibleAsync();

            // A tool wrote a folder with an NFD name: the page opens it under that very name and lists what is in it.
            var fromTool = $"{home}{testFolder}/e\u0301te\u0301/";
            await EmulatorPutAsync(fromTool + "plan.txt", "written by a tool\n");
            await page.ReloadAsync();
            await Assertions.Expect(Row(page, "folder-row", fromTool)).ToBeVisibleAsync();
            await Row(page, "folder-row", fromTool).GetByRole(AriaRole.Link).ClickAsync();
            await Assertions.Expect(Row(page, "file-row", fromTool + "plan.txt")).ToBeVisibleAsync();
            await Browser.SaveScreenshotAsync(page, "files-10-decomposed-folder");

            // Deleting the uploaded folder counts its files and its folders apart.
            await page.GetByTestId("breadcrumbs").GetByRole(AriaRole.Link, new() { Name = testFolder }).ClickAsync();
            await Row(page, "folder-row", survey).GetByRole(AriaRole.Button, new() { Name = $"Delete {top}" }).ClickAsync();
            var size = files.Values.Sum(text => Encoding.UTF8.GetByteCount(text));
            await Assertions.Expect(page.GetByTestId("delete-summary")).ToHaveTextAsync(
                $"Delete the folder {top} and everything in it ({files.Count} files in 4 folders, {Bytes(size)})? This cannot be undone.");
            await page.GetByTestId("delete-confirm").ClickAsync();
            await Assertions.Expect(page.GetByTestId("files-status")).ToHaveTextAsync($"Deleted {files.Count} files in 4 folders.");
            await Assertions.Expect(Row(page, "folder-row", survey)).ToHaveCountAsync(0);

            Assert.Empty(problems);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_page_reloaded_mid_upload_leaves_no_half_file_and_the_upload_can_be_carried_on_or_discarded()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var local = Directory.CreateTempSubdirectory("dw-files-");
        try
        {
            const string first = "carried on 70 MB.bin";
            const string second = "discarded 70 MB.bin";
            var firstHash = await RandomFileAsync(Path.Combine(local.FullName, first), 70);
            await RandomFileAsync(Path.Combine(local.FullName, second), 70);

            var (context, page, problems) = await SignedInAsync(new());
            await using var _ = context;
            // Leaving a page with uploads under way asks first: the user says leave.
            page.Dialog += (sender, dialog) => dialog.AcceptAsync();
            await OpenYourFilesAsync(page);
            var home = await HomeAsync();
            var testFolder = $"reloaded mid upload {suffix}";
            await CreateFolderAsync(page, testFolder);
            await OpenFolderAsync(page, testFolder);
            var folder = $"{home}{testFolder}/";

            foreach (var name in new[] { first, second })
            {
                // One part reaches S3; the others cannot, and the page is reloaded meanwhile.
                var partsSeen = 0;
                await page.RouteAsync(url => url.Contains("partNumber=", StringComparison.Ordinal), async route =>
                {
                    if (route.Request.Method == "PUT" && Interlocked.Increment(ref partsSeen) > 1) await route.AbortAsync("internetdisconnected");
                    else await route.ContinueAsync();
                });
                var partStored = page.WaitForResponseAsync(response => response.Url.Contains("partNumber=", StringComparison.Ordinal) && response.Request.Method == "PUT" && response.Status == 200,
                    new() { Timeout = 120_000 });
                var chooser = await page.RunAndWaitForFileChooserAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Upload files" }).ClickAsync());
                await chooser.SetFilesAsync(Path.Combine(local.FullName, name));
                await partStored;
                await page.ReloadAsync();
                await page.UnrouteAllAsync();
                await Assertions.Expect(page.GetByTestId("files-status")).ToContainTextAsync($"{testFolder}: ");

                // No half file is listed or stored; the upload is offered to carry on or to discard.
                await Assertions.Expect(page.GetByTestId("file-row")).ToHaveCountAsync(name == first ? 0 : 1);
                await Assertions.Expect(Row(page, "file-row", folder + name)).ToHaveCountAsync(0);
                Assert.DoesNotContain(folder + name, await EmulatorKeysAsync(folder));
                Assert.Equal(1, await EmulatorUploadsAsync(folder + name));
                var unfinished = page.GetByTestId("unfinished").GetByTestId("unfinished-upload");
                await Assertions.Expect(unfinished).ToHaveCountAsync(1);
                await Assertions.Expect(unfinished).ToContainTextAsync($"{testFolder}/{name} (70 MB)");
                if (name == first)
                {
                    await Browser.SaveScreenshotAsync(page, "files-11-unfinished-upload");
                    chooser = await page.RunAndWaitForFileChooserAsync(() => unfinished.GetByTestId("unfinished-resume").ClickAsync());
                    await chooser.SetFilesAsync(Path.Combine(local.FullName, name));
                    await Assertions.Expect(Row(page, "upload", folder + name).GetByTestId("upload-state")).ToHaveTextAsync("Uploaded", new() { Timeout = 180_000 });
                    await Assertions.Expect(page.GetByTestId("unfinished")).ToBeHiddenAsync();
                    await Assertions.Expect(Row(page, "file-row", folder + name).Locator("td").Nth(2)).ToHaveTextAsync("70 MB");
                    var stored = await EmulatorObjectAsync(folder + name);
                    Assert.NotNull(stored);
                    Assert.Equal(Convert.ToHexString(firstHash), Convert.ToHexString(stored.Value.Sha256));
                }
                else
                {
                    await unfinished.GetByTestId("unfinished-discard").ClickAsync();
                    await Assertions.Expect(page.GetByTestId("files-status")).ToHaveTextAsync($"The unfinished upload of {name} is discarded.");
                    await Assertions.Expect(page.GetByTestId("unfinished")).ToBeHiddenAsync();
                    Assert.Equal(0, await EmulatorUploadsAsync(folder + name));
                    Assert.DoesNotContain(folder + name, await EmulatorKeysAsync(folder));
                    await page.ReloadAsync();
                    await Assertions.Expect(page.GetByTestId("unfinished")).ToBeHiddenAsync();
                    await Assertions.Expect(page.GetByTestId("file-row")).ToHaveCountAsync(1);
                }
            }

            Assert.Empty(problems);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task While_the_file_store_is_out_of_reach_the_page_says_so_and_its_retries_work_once_it_is_back()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var local = Directory.CreateTempSubdirectory("dw-files-");
        try
        {
            const string csvName = "while down.csv";
            await File.WriteAllTextAsync(Path.Combine(local.FullName, csvName), "id,what\n1,sent while the store was down\n", Cancel);

            var (context, page, problems) = await SignedInAsync(new());
            await using var _ = context;
            await OpenYourFilesAsync(page);
            var home = await HomeAsync();
            var testFolder = $"store down {suffix}";
            await CreateFolderAsync(page, testFolder);
            await OpenFolderAsync(page, testFolder);
            var key = $"{home}{testFolder}/{csvName}";

            // The file store (the emulator's address, where the browser sends and fetches the bytes) refuses connections.
            var store = fixture.Platform.App.GetEndpoint("aws", "http");
            var storeDown = true;
            await page.RouteAsync(url => new Uri(url).Port == store.Port, async route =>
            {
                if (storeDown) await route.AbortAsync("connectionrefused");
                else await route.ContinueAsync();
            });

            var chooser = await page.RunAndWaitForFileChooserAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Upload files" }).ClickAsync());
            await chooser.SetFilesAsync(Path.Combine(local.FullName, csvName));
            var upload = Row(page, "upload", key);
            await Assertions.Expect(upload.GetByTestId("upload-text")).ToHaveTextAsync(
                new Regex(@"^0% of \d+ bytes\. Could not reach the file store \(.*\): trying again in \d+ s\.$"), new() { Timeout = 60_000 });
            await Assertions.Expect(upload.GetByTestId("upload-state")).ToHaveTextAsync("Uploading");
            await Browser.SaveScreenshotAsync(page, "files-12-store-down");

            // Back: the next retry goes through by itself.
            storeDown = false;
            await Assertions.Expect(upload.GetByTestId("upload-state")).ToHaveTextAsync("Uploaded", new() { Timeout = 120_000 });
            await Assertions.Expect(Row(page, "file-row", key)).ToBeVisibleAsync();

            // A preview while the store is down says so; asked again once it is back, it shows the file.
            storeDown = true;
            await Row(page, "file-row", key).GetByRole(AriaRole.Button, new() { Name = $"Preview {csvName}" }).ClickAsync();
            await Assertions.Expect(page.GetByTestId("preview-note")).ToHaveTextAsync($"Could not preview {csvName}: Could not reach the file store to read the file. Try again in a moment.");
            await page.GetByRole(AriaRole.Button, new() { Name = "Close preview" }).ClickAsync();
            storeDown = false;
            await Row(page, "file-row", key).GetByRole(AriaRole.Button, new() { Name = $"Preview {csvName}" }).ClickAsync();
            await Assertions.Expect(page.GetByTestId("preview").Locator("table tbody tr")).ToHaveTextAsync(["1sent while the store was down"]);
            await page.GetByRole(AriaRole.Button, new() { Name = "Close preview" }).ClickAsync();

            Assert.Empty(problems);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_file_store_that_accepts_the_connection_and_then_goes_silent_is_given_up_on_said_so_and_retried()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var local = Directory.CreateTempSubdirectory("dw-files-");
        try
        {
            // A small file (no upload listener: the page cannot see its bytes leave) and one of 2 MiB (with one).
            const string smallName = "silent store.csv";
            const string largeName = "silent store 2 MB.bin";
            await File.WriteAllTextAsync(Path.Combine(local.FullName, smallName), "id,what\n1,sent while the store was silent\n", Cancel);
            var largeHash = await RandomFileAsync(Path.Combine(local.FullName, largeName), 2);

            var (context, page, problems) = await SignedInAsync(new());
            await using var _ = context;
            await OpenYourFilesAsync(page);
            var home = await HomeAsync();
            var testFolder = $"store silent {suffix}";
            await CreateFolderAsync(page, testFolder);
            await OpenFolderAsync(page, testFolder);

            // The store takes the requests and answers nothing (as a paused or overloaded S3 endpoint does) until let go.
            var store = fixture.Platform.App.GetEndpoint("aws", "http");
            var letGo = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var held = 0;
            await page.RouteAsync(url => new Uri(url).Port == store.Port, async route =>
            {
                if (route.Request.Method == "POST" && !letGo.Task.IsCompleted)
                {
                    Interlocked.Increment(ref held);
                    await letGo.Task;
                }
                try
                {
                    await route.ContinueAsync();
                }
                catch (PlaywrightException)
                {
                    // The page gave this request up while it was held.
                }
            });

            var chooser = await page.RunAndWaitForFileChooserAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Upload files" }).ClickAsync());
            await chooser.SetFilesAsync([Path.Combine(local.FullName, smallName), Path.Combine(local.FullName, largeName)]);
            var small = Row(page, "upload", $"{home}{testFolder}/{smallName}");
            var large = Row(page, "upload", $"{home}{testFolder}/{largeName}");
            // Nothing for 30 s: each upload says the store stopped answering and that it will try again.
            foreach (var (upload, size) in new[] { (small, @"\d+ bytes"), (large, "2 MB") })
            {
                await Assertions.Expect(upload.GetByTestId("upload-text")).ToHaveTextAsync(
                    new Regex($@"^0% of {size}\. Could not reach the file store \(the file store stopped answering for 30 s\): trying again in \d+ s\.$"),
                    new() { Timeout = 90_000 });
                await Assertions.Expect(upload.GetByTestId("upload-state")).ToHaveTextAsync("Uploading");
            }
            Assert.True(Volatile.Read(ref held) >= 2);
            await Browser.SaveScreenshotAsync(page, "files-13-store-silent");

            // The store answers again: the retries go through by themselves, and the files arrive whole.
            letGo.SetResult();
            await Assertions.Expect(small.GetByTestId("upload-state")).ToHaveTextAsync("Uploaded", new() { Timeout = 120_000 });
            await Assertions.Expect(large.GetByTestId("upload-state")).ToHaveTextAsync("Uploaded", new() { Timeout = 120_000 });
            await Assertions.Expect(page.GetByTestId("overall-text")).ToContainTextAsync("2 of 2 files uploaded");
            var stored = await EmulatorObjectAsync($"{home}{testFolder}/{largeName}");
            Assert.NotNull(stored);
            Assert.Equal(2L << 20, stored.Value.Size);
            Assert.Equal(Convert.ToHexString(largeHash), Convert.ToHexString(stored.Value.Sha256));
            await Assertions.Expect(Row(page, "file-row", $"{home}{testFolder}/{smallName}")).ToBeVisibleAsync();

            Assert.Empty(problems);
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    /// <summary>Writes <paramref name="megabytes"/> MiB of random bytes; their SHA-256.</summary>
    private static async Task<byte[]> RandomFileAsync(string path, int megabytes)
    {
        await using var file = File.Create(path);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var block = new byte[1 << 20];
        for (var i = 0; i < megabytes; i++)
        {
            RandomNumberGenerator.Fill(block);
            hash.AppendData(block);
            await file.WriteAsync(block, Cancel);
        }
        return hash.GetHashAndReset();
    }

    /// <summary>An object written straight into the emulator, as a tool's own S3 client writes it.</summary>
    private async Task EmulatorPutAsync(string key, string text)
    {
        using var http = new HttpClient();
        using var response = await http.PutAsync(new Uri(fixture.Platform.App.GetEndpoint("aws", "http"), EmulatorPath(key)), new StringContent(text), Cancel);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>How many multipart uploads to <paramref name="key"/> the emulator holds unfinished.</summary>
    private async Task<int> EmulatorUploadsAsync(string key)
    {
        using var http = new HttpClient();
        var xml = await http.GetStringAsync(new Uri(fixture.Platform.App.GetEndpoint("aws", "http"), $"{Bucket}?uploads&prefix={Uri.EscapeDataString(key)}"), Cancel);
        return System.Xml.Linq.XDocument.Parse(xml).Descendants().Count(e => e.Name.LocalName == "Upload"
            && e.Elements().Any(k => k.Name.LocalName == "Key" && k.Value == key));
    }

    /// <summary>The files under <paramref name="prefix"/> the emulator holds (not folder markers), in S3's order: it answers a listing without a signature, unlike a private object.</summary>
    private async Task<List<string>> EmulatorKeysAsync(string prefix)
    {
        using var http = new HttpClient();
        var xml = await http.GetStringAsync(new Uri(fixture.Platform.App.GetEndpoint("aws", "http"), $"{Bucket}?list-type=2&prefix={Uri.EscapeDataString(prefix)}"), Cancel);
        return [.. System.Xml.Linq.XDocument.Parse(xml).Descendants().Where(e => e.Name.LocalName == "Contents")
            .SelectMany(contents => contents.Elements().Where(e => e.Name.LocalName == "Key").Select(e => e.Value)).Where(key => !key.EndsWith('/'))];
    }

    private static string EmulatorPath(string key) => Bucket + "/" + string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
}
