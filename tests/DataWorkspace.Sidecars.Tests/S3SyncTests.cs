using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using DataWorkspace.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>
/// The real <c>dataworkspace-sidecar s3sync</c> executable keeping a temporary folder in step with a bucket prefix on
/// moto, as it runs beside a tool: changes on either side, restarts of the sidecar, and S3 paused or losing everything.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class S3SyncTests(MotoServer aws) : IClassFixture<MotoServer>, IAsyncLifetime
{
    private const string Prefix = "home/u1/";
    private static readonly DateTime OldMtime = new(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    private readonly string bucket = "sync-" + Guid.NewGuid().ToString("N")[..12];
    private readonly string local = Directory.CreateTempSubdirectory("s3sync-test-").FullName;
    private readonly List<Sidecar> sidecars = [];
    private AmazonS3Client s3 = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        s3 = NewClient();
        await s3.PutBucketAsync(bucket, Cancellation);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var sidecar in sidecars)
        {
            await sidecar.DisposeAsync();
            TestContext.Current.TestOutputHelper?.WriteLine(sidecar.Output);
        }
        s3.Dispose();
        TestDirectories.Delete(local);
    }

    [Fact]
    public async Task Files_and_folders_go_both_ways_with_mtime_and_mode_and_excluded_names_stay_put()
    {
        WriteLocal("notebook.py", "print(1)", OldMtime.AddDays(1));
        File.SetUnixFileMode(Local("notebook.py"), (UnixFileMode)Convert.ToInt32("755", 8));
        WriteLocal("empty.bin", "");
        Directory.CreateDirectory(Local("empty-folder"));
        WriteLocal("__pycache__/notebook.cpython-312.pyc", "compiled");
        WriteLocal("data/.notebook.py.swp", "swap");
        await PutRemoteAsync("from-s3.csv", "a,b\n1,2\n", OldMtime, "600");
        await PutRemoteAsync("reports/2024/summary.txt", "summary");
        await PutRemoteAsync("shared-folder/", "");
        await PutRemoteAsync("analysis/.ipynb_checkpoints/a-checkpoint.ipynb", "{}");

        await StartAsync();

        await EventuallyAsync(async () => await RemoteTextAsync("notebook.py") == "print(1)", "the local file is uploaded");
        var uploaded = await s3.GetObjectMetadataAsync(bucket, Prefix + "notebook.py", Cancellation);
        Assert.Equal(OldMtime.AddDays(1), new DateTime(SyncPathsTicks(uploaded.Metadata["x-amz-meta-mtime"]), DateTimeKind.Utc));
        Assert.Equal("0755", uploaded.Metadata["x-amz-meta-mode"]);
        await EventuallyAsync(async () => await RemoteTextAsync("empty.bin") == "" && await RemoteTextAsync("empty-folder/") == "", "the 0-byte file and the empty folder are uploaded");
        await EventuallyAsync(() => Task.FromResult(File.Exists(Local("from-s3.csv")) && File.Exists(Local("reports/2024/summary.txt")) && Directory.Exists(Local("shared-folder"))),
            "the objects are downloaded");
        Assert.Equal("a,b\n1,2\n", File.ReadAllText(Local("from-s3.csv")));
        Assert.Equal(OldMtime, File.GetLastWriteTimeUtc(Local("from-s3.csv")));
        Assert.Equal((UnixFileMode)Convert.ToInt32("600", 8), File.GetUnixFileMode(Local("from-s3.csv")));

        WriteLocal("written-later.txt", "later");
        await PutRemoteAsync("put-later.txt", "from elsewhere");
        await EventuallyAsync(async () => await RemoteTextAsync("written-later.txt") == "later", "a file written while running is uploaded");
        await EventuallyAsync(() => Task.FromResult(File.Exists(Local("put-later.txt"))), "an object put while running is downloaded");

        var keys = await RemoteKeysAsync();
        Assert.DoesNotContain(keys, key => key.Contains("__pycache__") || key.EndsWith(".swp", StringComparison.Ordinal) || key.StartsWith(".s3sync", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Local("analysis/.ipynb_checkpoints")));
    }

    [Fact]
    public async Task The_initial_download_never_overwrites_a_newer_local_file_and_keeps_both_versions()
    {
        WriteLocal("analysis.py", "local, newer", DateTime.UtcNow.AddMinutes(-5));
        await PutRemoteAsync("analysis.py", "in S3, older", OldMtime);
        WriteLocal("old-local.txt", "local, older", OldMtime);
        await PutRemoteAsync("old-local.txt", "in S3, newer", DateTime.UtcNow.AddMinutes(-5));

        await StartAsync();

        await EventuallyAsync(async () => (await RemoteKeysAsync()).Count(key => key.Contains("(conflict ")) == 2, "both conflict copies reach S3");
        Assert.Equal("local, newer", File.ReadAllText(Local("analysis.py")));
        Assert.Equal("local, newer", await RemoteTextAsync("analysis.py"));
        Assert.Equal("in S3, older", File.ReadAllText(Assert.Single(Directory.GetFiles(local, "analysis (conflict *).py"))));
        Assert.Equal("in S3, newer", File.ReadAllText(Local("old-local.txt")));
        Assert.Equal("local, older", File.ReadAllText(Assert.Single(Directory.GetFiles(local, "old-local (conflict *).txt"))));
    }

    [Fact]
    public async Task A_file_changed_on_both_sides_while_the_sidecar_was_stopped_is_kept_in_both_versions()
    {
        WriteLocal("report.md", "first");
        var first = await StartAsync();
        await EventuallyAsync(async () => await RemoteTextAsync("report.md") == "first", "the file is uploaded");
        Assert.Equal(0, await first.StopAsync());

        WriteLocal("report.md", "edited here", DateTime.UtcNow.AddMinutes(-2));
        await PutRemoteAsync("report.md", "edited elsewhere", DateTime.UtcNow.AddMinutes(-1));
        await StartAsync();

        await EventuallyAsync(async () => (await RemoteKeysAsync()).Any(key => key.Contains("report (conflict ")), "the conflict copy reaches S3");
        var conflict = Path.GetFileName(Assert.Single(Directory.GetFiles(local, "report (conflict *).md")));
        Assert.Matches(@"^report \(conflict \d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\)\.md$", conflict);
        Assert.Equal("edited elsewhere", File.ReadAllText(Local("report.md")));
        Assert.Equal("edited here", File.ReadAllText(Local(conflict)));
        Assert.Equal("edited elsewhere", await RemoteTextAsync("report.md"));
        Assert.Equal("edited here", await RemoteTextAsync(conflict));
    }

    [Fact]
    public async Task A_file_changed_in_S3_and_then_here_before_the_next_poll_is_kept_in_both_versions()
    {
        WriteLocal("shared.csv", "original");
        var sidecar = await StartAsync("--poll-interval", "600");
        await EventuallyAsync(async () => await RemoteTextAsync("shared.csv") == "original", "the file is uploaded");
        await EventuallyAsync(async () => (await sidecar.HealthAsync()).Body.Contains("last succeeded"), "the first round is done");

        await PutRemoteAsync("shared.csv", "edited elsewhere", DateTime.UtcNow.AddMinutes(-1));
        WriteLocal("shared.csv", "edited here");

        await EventuallyAsync(async () => (await RemoteKeysAsync()).Any(key => key.StartsWith("shared (conflict ", StringComparison.Ordinal)), "the conflict copy reaches S3");
        var conflict = Path.GetFileName(Assert.Single(Directory.GetFiles(local, "shared (conflict *).csv")));
        Assert.Equal("edited here", File.ReadAllText(Local("shared.csv")));
        Assert.Equal("edited elsewhere", File.ReadAllText(Local(conflict)));
        Assert.Equal("edited here", await RemoteTextAsync("shared.csv"));
        Assert.Equal("edited elsewhere", await RemoteTextAsync(conflict));
    }

    [Fact]
    public async Task Deletions_and_renames_are_passed_on_both_ways()
    {
        WriteLocal("delete-me.txt", "1");
        WriteLocal("rename-me.txt", "2");
        WriteLocal("folder/inside.txt", "3");
        var large = new byte[3 * 1024 * 1024];
        Random.Shared.NextBytes(large);
        File.WriteAllBytes(Local("large.bin"), large);
        await PutRemoteAsync("remote-delete.txt", "4");
        await PutRemoteAsync("remote-rename.txt", "5");
        var sidecar = await StartAsync();
        await EventuallyAsync(async () =>
        {
            var keys = await RemoteKeysAsync();
            return keys.Contains("delete-me.txt") && keys.Contains("rename-me.txt") && keys.Contains("folder/inside.txt") && keys.Contains("large.bin")
                && File.Exists(Local("remote-delete.txt")) && File.Exists(Local("remote-rename.txt"));
        }, "everything is on both sides");
        File.Move(Local("large.bin"), Local("large-renamed.bin"));

        File.Delete(Local("delete-me.txt"));
        File.Move(Local("rename-me.txt"), Local("renamed.txt"));
        Directory.Move(Local("folder"), Local("moved-folder"));
        await s3.DeleteObjectAsync(bucket, Prefix + "remote-delete.txt", Cancellation);
        await s3.CopyObjectAsync(bucket, Prefix + "remote-rename.txt", bucket, Prefix + "remote-renamed.txt", Cancellation);
        await s3.DeleteObjectAsync(bucket, Prefix + "remote-rename.txt", Cancellation);

        await EventuallyAsync(async () =>
        {
            var keys = await RemoteKeysAsync();
            return !keys.Contains("delete-me.txt") && !keys.Contains("rename-me.txt") && keys.Contains("renamed.txt")
                && !keys.Contains("folder/inside.txt") && !keys.Contains("folder/") && keys.Contains("moved-folder/inside.txt");
        }, "local deletions and renames reach S3");
        await EventuallyAsync(() => Task.FromResult(!File.Exists(Local("remote-delete.txt")) && !File.Exists(Local("remote-rename.txt")) && File.Exists(Local("remote-renamed.txt"))),
            "S3's deletion and rename reach the folder");
        Assert.Equal("5", File.ReadAllText(Local("remote-renamed.txt")));
        Assert.Equal("2", await RemoteTextAsync("renamed.txt"));
        await EventuallyAsync(async () => (await RemoteKeysAsync()) is var keys && keys.Contains("large-renamed.bin") && !keys.Contains("large.bin"), "the large file's rename reaches S3");
        using (var response = await s3.GetObjectAsync(bucket, Prefix + "large-renamed.bin", Cancellation))
        using (var copy = new MemoryStream())
        {
            await response.ResponseStream.CopyToAsync(copy, Cancellation);
            Assert.Equal(large, copy.ToArray());
        }
        // Renamed, not sent again: the large file by a copy inside S3, the object by a copy of the local file.
        Assert.Contains("Copied large.bin to large-renamed.bin in S3", sidecar.Output);
        Assert.Contains("Copied remote-rename.txt to remote-renamed.txt here", sidecar.Output);
    }

    [Fact]
    public async Task A_restarted_sidecar_uploads_offline_changes_and_passes_on_offline_deletions_without_downloading_them_again()
    {
        WriteLocal("edit.txt", "before");
        WriteLocal("delete.txt", "doomed");
        WriteLocal("keep.txt", "kept");
        var first = await StartAsync();
        await EventuallyAsync(async () => (await RemoteKeysAsync()).Count(key => key.EndsWith(".txt", StringComparison.Ordinal)) == 3, "the files are uploaded");
        Assert.Equal(0, await first.StopAsync());

        WriteLocal("edit.txt", "edited offline", DateTime.UtcNow.AddMinutes(-1));
        File.Delete(Local("delete.txt"));
        WriteLocal("new.txt", "made offline");
        await StartAsync();

        await EventuallyAsync(async () =>
        {
            var keys = await RemoteKeysAsync();
            return !keys.Contains("delete.txt") && keys.Contains("new.txt") && await RemoteTextAsync("edit.txt") == "edited offline";
        }, "the offline changes reach S3");
        Assert.False(File.Exists(Local("delete.txt")));
        Assert.Equal("edited offline", File.ReadAllText(Local("edit.txt")));
        Assert.Equal("kept", await RemoteTextAsync("keep.txt"));
    }

    [Fact]
    public async Task While_S3_is_paused_health_fails_saying_why_and_afterwards_the_changes_made_meanwhile_are_uploaded()
    {
        WriteLocal("before.txt", "before");
        var sidecar = await StartAsync();
        await EventuallyAsync(async () => await RemoteTextAsync("before.txt") == "before", "the file is uploaded");
        await EventuallyAsync(async () => (await sidecar.HealthAsync()).Status == HttpStatusCode.OK, "healthy while syncing");

        Signal("STOP", aws.ProcessId);
        try
        {
            WriteLocal("during.txt", "written while S3 was away");
            await EventuallyAsync(async () => (await sidecar.HealthAsync()).Status == HttpStatusCode.ServiceUnavailable, "health fails while stuck");
            Assert.Contains("stuck", (await sidecar.HealthAsync()).Body);
        }
        finally
        {
            Signal("CONT", aws.ProcessId);
        }

        await EventuallyAsync(async () => await RemoteTextAsync("during.txt") == "written while S3 was away", "the change made during the outage is uploaded");
        await EventuallyAsync(async () => (await sidecar.HealthAsync()).Status == HttpStatusCode.OK, "healthy again");
        Assert.Equal("before", File.ReadAllText(Local("before.txt")));
    }

    [Fact]
    public async Task When_S3_comes_back_empty_nothing_local_is_deleted_and_everything_is_uploaded_again()
    {
        WriteLocal("a.txt", "a");
        WriteLocal("notes/b.txt", "b");
        var sidecar = await StartAsync();
        await EventuallyAsync(async () => await RemoteTextAsync("a.txt") == "a" && await RemoteTextAsync("notes/b.txt") == "b", "the files are uploaded");

        await aws.RestartAsync();
        s3.Dispose();
        s3 = NewClient();
        await EventuallyAsync(() => Task.FromResult(sidecar.Output.Contains("NoSuchBucket") || sidecar.Output.Contains("bucket does not exist")), "the missing bucket is noticed");
        WriteLocal("c.txt", "written while the bucket was missing");
        Assert.True(File.Exists(Local("a.txt")) && File.Exists(Local("notes/b.txt")));

        await s3.PutBucketAsync(bucket, Cancellation);
        await EventuallyAsync(async () =>
        {
            var keys = await RemoteKeysAsync();
            return keys.Contains("a.txt") && keys.Contains("notes/b.txt") && keys.Contains("c.txt");
        }, "everything is uploaded again");
        Assert.Equal("a", File.ReadAllText(Local("a.txt")));
        Assert.Equal("b", File.ReadAllText(Local("notes/b.txt")));
        Assert.Equal("b", await RemoteTextAsync("notes/b.txt"));
    }

    [Fact]
    public async Task Everything_deleted_in_S3_while_it_runs_is_deleted_here_too_and_not_uploaded_again()
    {
        WriteLocal("a.txt", "a");
        WriteLocal("notes/b.txt", "b");
        await StartAsync();
        await EventuallyAsync(async () => await RemoteTextAsync("a.txt") == "a" && await RemoteTextAsync("notes/b.txt") == "b", "the files are uploaded");
        // The folder's own marker goes up after its files, in the same round: the page lists it too before deleting.
        await EventuallyAsync(async () => (await RemoteKeysAsync()).Contains("notes/"), "the folder is uploaded");

        // As the files page does when the analyst deletes every file in their home.
        await DeleteRemoteAsync(await RemoteKeysAsync());

        await EventuallyAsync(() => Task.FromResult(!File.Exists(Local("a.txt")) && !File.Exists(Local("notes/b.txt"))), "the deletions reach the tool's home");
        await Task.Delay(TimeSpan.FromSeconds(3), Cancellation);
        Assert.Empty(await RemoteKeysAsync());
    }

    [Fact]
    public async Task Objects_deleted_in_S3_in_the_middle_of_a_round_do_not_bring_back_files_deleted_there()
    {
        WriteLocal("known.txt", "synced before");
        await StartAsync();
        await EventuallyAsync(async () => await RemoteTextAsync("known.txt") == "synced before", "the file is uploaded");

        // Many new objects, so that some are still to be fetched when they and the known file are deleted (as on the files page).
        var batch = Enumerable.Range(0, 400).Select(i => $"batch/{i:D3}.txt").ToList();
        await Parallel.ForEachAsync(batch, Cancellation, async (path, _) => await PutRemoteAsync(path, path, OldMtime));
        await EventuallyAsync(() => Task.FromResult(Directory.Exists(Local("batch")) && Directory.EnumerateFiles(Local("batch")).Any()), "the download of the new objects begins");
        await DeleteRemoteAsync([.. batch, "batch/", "known.txt"]);

        await EventuallyAsync(async () =>
        {
            var keys = await RemoteKeysAsync();
            return keys.Count == 0 && !File.Exists(Local("known.txt")) && !Directory.Exists(Local("batch"));
        }, "the deletions win on both sides");
        await Task.Delay(TimeSpan.FromSeconds(3), Cancellation);
        Assert.Empty(await RemoteKeysAsync());
        Assert.False(File.Exists(Local("known.txt")));
    }

    [Fact]
    public async Task Local_changes_made_while_a_listing_of_several_pages_goes_on_end_up_in_S3_as_they_are_here()
    {
        // Excluded objects are listed but never fetched: every full round reads three pages of them.
        var listedOnly = Enumerable.Range(0, 2100).Select(i => $"__pycache__/m{i:D4}.pyc").ToList();
        await Parallel.ForEachAsync(listedOnly, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Cancellation }, async (path, _) => await PutRemoteAsync(path, "x"));
        for (var i = 0; i < 20; i++)
            WriteLocal($"work/f{i:D2}.txt", "first");
        await StartAsync("--poll-interval", "0.1", "--quiet-period", "0");
        await EventuallyAsync(async () => (await RemoteKeysAsync()).Count(key => key.StartsWith("work/f", StringComparison.Ordinal)) == 20, "the first files are uploaded");

        // Edits, new files, renames and deletions, spread over rounds that spend most of their time listing.
        for (var round = 0; round < 10; round++)
        {
            WriteLocal($"work/f{round:D2}.txt", $"edited in round {round}");
            WriteLocal($"work/new{round:D2}.txt", $"new in round {round}");
            File.Move(Local($"work/f{round + 10:D2}.txt"), Local($"work/renamed{round:D2}.txt"));
            if (round % 2 == 0)
                File.Delete(Local($"work/new{round:D2}.txt"));
            await Task.Delay(TimeSpan.FromMilliseconds(150), Cancellation);
        }

        var expected = Directory.EnumerateFiles(Local("work")).ToDictionary(file => "work/" + Path.GetFileName(file), File.ReadAllText);
        await EventuallyAsync(async () =>
        {
            var keys = (await RemoteKeysAsync()).Where(key => key.StartsWith("work/", StringComparison.Ordinal) && !key.EndsWith('/')).ToHashSet();
            if (!keys.SetEquals(expected.Keys))
                return false;
            foreach (var (key, text) in expected)
            {
                if (await RemoteTextAsync(key) != text)
                    return false;
            }
            return true;
        }, "S3 holds the folder as it is here");
        Assert.Equal(expected.Keys.Order(), Directory.EnumerateFiles(Local("work")).Select(file => "work/" + Path.GetFileName(file)).Order());
        Assert.All(expected, pair => Assert.Equal(pair.Value, File.ReadAllText(Local(pair.Key))));
        Assert.False(Directory.Exists(Local("__pycache__")));
    }

    [Fact]
    public async Task A_file_changed_within_the_quiet_period_is_not_overwritten_from_S3()
    {
        var sidecar = await StartAsync("--quiet-period", "600");
        WriteLocal("open-in-editor.txt", "mine");
        await EventuallyAsync(async () => await RemoteTextAsync("open-in-editor.txt") == "mine", "the file is uploaded");

        await PutRemoteAsync("open-in-editor.txt", "someone else's");

        await EventuallyAsync(() => Task.FromResult(sidecar.Output.Contains("open-in-editor.txt changed less than")), "the sidecar holds off");
        Assert.Equal("mine", File.ReadAllText(Local("open-in-editor.txt")));
    }

    [Fact]
    public async Task Large_files_go_up_in_parts_names_S3_cannot_hold_are_skipped_and_SIGTERM_exits_0()
    {
        var large = new byte[20 * 1024 * 1024 + 123];
        Random.Shared.NextBytes(large);
        Directory.CreateDirectory(Local("big"));
        File.WriteAllBytes(Local("big/data.bin"), large);
        var deep = string.Join('/', Enumerable.Repeat(new string('d', 250), 4));
        WriteLocal(deep + "/too-long-for-s3.txt", "x");
        WriteLocal("bad\u0001name.txt", "y");
        WriteLocal("fine.txt", "z");

        var sidecar = await StartAsync("--multipart-threshold-mb", "5");

        await EventuallyAsync(async () => (await RemoteKeysAsync()).Contains("big/data.bin") && (await RemoteKeysAsync()).Contains("fine.txt"), "the files are uploaded", seconds: 120);
        var head = await s3.GetObjectMetadataAsync(bucket, Prefix + "big/data.bin", Cancellation);
        Assert.Contains("-", head.ETag);
        using (var response = await s3.GetObjectAsync(bucket, Prefix + "big/data.bin", Cancellation))
        using (var copy = new MemoryStream())
        {
            await response.ResponseStream.CopyToAsync(copy, Cancellation);
            Assert.Equal(large, copy.ToArray());
        }
        Assert.DoesNotContain(await RemoteKeysAsync(), key => key.Contains("too-long-for-s3") || key.Contains("bad"));
        Assert.Contains("longer than 1024 bytes", sidecar.Output);
        Assert.Contains("control characters", sidecar.Output);
        Assert.Equal(0, await sidecar.StopAsync());
    }

    [Fact]
    public async Task A_file_written_to_during_its_upload_ends_up_in_S3_as_last_written_and_files_gone_mid_upload_are_not_left_there()
    {
        var sidecar = await StartAsync("--multipart-threshold-mb", "5");
        var chunk = new byte[1024 * 1024];
        await using (var growing = new FileStream(Local("growing.log"), FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            for (var i = 0; i < 12; i++)
            {
                Random.Shared.NextBytes(chunk);
                await growing.WriteAsync(chunk, Cancellation);
                await growing.FlushAsync(Cancellation);
                WriteLocal($"fleeting-{i}.tmp", new string('x', 100_000));
                await Task.Delay(100, Cancellation);
                File.Delete(Local($"fleeting-{i}.tmp"));
            }
        }
        var final = await File.ReadAllBytesAsync(Local("growing.log"), Cancellation);

        await EventuallyAsync(async () =>
        {
            using var response = await s3.GetObjectAsync(bucket, Prefix + "growing.log", Cancellation);
            using var copy = new MemoryStream();
            await response.ResponseStream.CopyToAsync(copy, Cancellation);
            return copy.ToArray().AsSpan().SequenceEqual(final);
        }, "S3 holds the file as last written");
        await EventuallyAsync(async () => !(await RemoteKeysAsync()).Any(key => key.StartsWith("fleeting-", StringComparison.Ordinal)), "no deleted file is left in S3");
        Assert.Equal(HttpStatusCode.OK, (await sidecar.HealthAsync()).Status);
    }

    [Fact]
    public async Task A_file_saved_just_before_SIGTERM_is_uploaded_before_the_sidecar_exits()
    {
        var sidecar = await StartAsync("--poll-interval", "600");
        await EventuallyAsync(async () => (await sidecar.HealthAsync()).Body.Contains("last succeeded"), "the first round is done");

        WriteLocal("saved-at-the-last-moment.txt", "do not lose me");
        Assert.Equal(0, await sidecar.StopAsync());

        Assert.Equal("do not lose me", await RemoteTextAsync("saved-at-the-last-moment.txt"));
    }

    [Fact]
    public async Task After_SIGTERM_an_upload_held_up_by_a_slow_S3_is_still_finished_before_the_sidecar_exits()
    {
        var sidecar = await StartAsync("--poll-interval", "600");
        await EventuallyAsync(async () => (await sidecar.HealthAsync()).Body.Contains("last succeeded"), "the first round is done");

        WriteLocal("saved-while-S3-is-slow.txt", "do not lose me either");
        Signal("STOP", aws.ProcessId);
        Task<int> exit;
        try
        {
            exit = sidecar.StopAsync();
            // S3 answers only after a few seconds, longer than a command-line library's grace period after SIGTERM.
            await Task.Delay(TimeSpan.FromSeconds(4), Cancellation);
        }
        finally
        {
            Signal("CONT", aws.ProcessId);
        }

        Assert.Equal(0, await exit);
        Assert.Equal("do not lose me either", await RemoteTextAsync("saved-while-S3-is-slow.txt"));
    }

    [Fact]
    public async Task A_file_and_a_folder_of_the_same_name_are_both_kept_and_the_rest_still_syncs()
    {
        WriteLocal("results/local.txt", "in the local folder");
        await PutRemoteAsync("results", "a file in S3");
        WriteLocal("model", "a local file");
        await PutRemoteAsync("model/weights.bin", "in an S3 folder");
        var sidecar = await StartAsync();

        await EventuallyAsync(() => Task.FromResult(sidecar.Output.Contains("\"Path\":\"results\"") && sidecar.Output.Contains("\"Path\":\"model/weights.bin\"")), "both clashes are logged");
        await PutRemoteAsync("after.txt", "after");
        await EventuallyAsync(() => Task.FromResult(File.Exists(Local("after.txt"))), "sync goes on");

        Assert.Equal("in the local folder", File.ReadAllText(Local("results/local.txt")));
        Assert.Equal("a local file", File.ReadAllText(Local("model")));
        Assert.Equal("a file in S3", await RemoteTextAsync("results"));
        Assert.Equal("in an S3 folder", await RemoteTextAsync("model/weights.bin"));
        Assert.Equal("in the local folder", await RemoteTextAsync("results/local.txt"));
        Assert.Equal("a local file", await RemoteTextAsync("model"));
        Assert.Empty(Directory.GetFiles(local, "*conflict*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Credentials_can_come_from_a_renewing_container_endpoint_as_local_tools_get_them()
    {
        var port = Ports.Free();
        using var endpoint = new HttpListener();
        endpoint.Prefixes.Add($"http://127.0.0.1:{port}/");
        endpoint.Start();
        var authorizations = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        _ = Task.Run(async () =>
        {
            while (endpoint.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await endpoint.GetContextAsync();
                }
                catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                authorizations.Enqueue(context.Request.Headers["Authorization"]);
                var body = Encoding.UTF8.GetBytes($$"""
                    {"RoleArn":"arn:aws:iam::123456789012:role/tool","AccessKeyId":"{{MotoServer.AccessKeyId}}","SecretAccessKey":"{{MotoServer.SecretAccessKey}}","Token":"session","Expiration":"{{DateTime.UtcNow.AddHours(1):yyyy-MM-ddTHH:mm:ssZ}}"}
                    """);
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
        }, Cancellation);
        WriteLocal("via-container-credentials.txt", "ok");

        var sidecar = Sidecar.Start(aws, bucket, Prefix, local, ["--poll-interval", "1"], new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = null,
            ["AWS_SECRET_ACCESS_KEY"] = null,
            ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = $"http://127.0.0.1:{port}/tools/abc/credentials",
            ["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "instance-token",
        });
        sidecars.Add(sidecar);

        await EventuallyAsync(async () => await RemoteTextAsync("via-container-credentials.txt") == "ok", "the file is uploaded with the endpoint's credentials");
        Assert.Contains("instance-token", authorizations);
    }

    [Fact]
    public async Task The_heartbeat_and_the_counters_show_on_the_meter()
    {
        WriteLocal("counted.txt", "1");
        await PutRemoteAsync("also-counted.txt", "2");
        var settings = S3Sync.S3SyncSettings.Create(local, bucket, Prefix, MotoServer.Region, aws.Url.ToString(), null, S3Sync.S3SyncSettings.DefaultExcludes, 1, 0, null, null, out var problems)
            ?? throw new InvalidOperationException(string.Join(" ", problems));
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", MotoServer.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", MotoServer.SecretAccessKey);
        using var host = S3Sync.S3SyncHost.Build(settings, logging => { });
        var factory = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var measured = new System.Collections.Concurrent.ConcurrentDictionary<string, double>();
        using var meters = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory)
                    listener.EnableMeasurementEvents(instrument);
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            measured.AddOrUpdate($"{instrument.Name}/{string.Join(",", tags.ToArray().Select(tag => tag.Value))}", value, (_, total) => total + value));
        meters.SetMeasurementEventCallback<double>((instrument, value, _, _) => measured[instrument.Name] = value);
        meters.Start();

        await host.StartAsync(Cancellation);
        try
        {
            await EventuallyAsync(() =>
            {
                meters.RecordObservableInstruments();
                return Task.FromResult(measured.GetValueOrDefault("s3sync.last_success") > 0);
            }, "the heartbeat beats");
            Assert.Equal(1, measured.GetValueOrDefault("s3sync.transfers/upload"));
            Assert.Equal(1, measured.GetValueOrDefault("s3sync.transfers/download"));
            Assert.InRange(measured["s3sync.last_success"], DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Missing_settings_are_refused_with_what_to_give()
    {
        await using var sidecar = Sidecar.Start(aws, "", "", local, [], []);
        Assert.Equal(2, await sidecar.WaitForExitAsync());
        Assert.Contains("No bucket", sidecar.Output);
    }

    private async Task<Sidecar> StartAsync(params string[] arguments)
    {
        string[] defaults = [.. arguments.Contains("--poll-interval") ? [] : new[] { "--poll-interval", "1" }, .. arguments.Contains("--quiet-period") ? [] : new[] { "--quiet-period", "0" }];
        var sidecar = Sidecar.Start(aws, bucket, Prefix, local, [.. defaults, .. arguments], []);
        sidecars.Add(sidecar);
        await EventuallyAsync(async () => sidecar.HasExited || (await sidecar.HealthAsync()).Status != 0, "the sidecar answers on its health port");
        Assert.False(sidecar.HasExited, sidecar.Output);
        return sidecar;
    }

    private AmazonS3Client NewClient() => new(new BasicAWSCredentials(MotoServer.AccessKeyId, MotoServer.SecretAccessKey),
        new AmazonS3Config { ServiceURL = aws.Url.ToString(), ForcePathStyle = true, AuthenticationRegion = MotoServer.Region });

    private string Local(string path) => Path.Combine(local, path);

    private void WriteLocal(string path, string content, DateTime? mtime = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Local(path))!);
        File.WriteAllText(Local(path), content);
        if (mtime is { } value)
            File.SetLastWriteTimeUtc(Local(path), value);
    }

    private async Task PutRemoteAsync(string path, string content, DateTime? mtime = null, string? mode = null)
    {
        var request = new PutObjectRequest { BucketName = bucket, Key = Prefix + path, ContentBody = content };
        if (mtime is { } value)
            request.Metadata["x-amz-meta-mtime"] = ((value - DateTime.UnixEpoch).Ticks / (double)TimeSpan.TicksPerSecond).ToString("0.0######", CultureInfo.InvariantCulture);
        if (mode is not null)
            request.Metadata["x-amz-meta-mode"] = mode;
        await s3.PutObjectAsync(request, Cancellation);
    }

    private async Task<string?> RemoteTextAsync(string path)
    {
        try
        {
            using var response = await s3.GetObjectAsync(bucket, Prefix + path, Cancellation);
            using var reader = new StreamReader(response.ResponseStream, Encoding.UTF8);
            return await reader.ReadToEndAsync(Cancellation);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task DeleteRemoteAsync(IEnumerable<string> paths)
    {
        foreach (var chunk in paths.Chunk(1000))
            await s3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = bucket, Objects = [.. chunk.Select(path => new KeyVersion { Key = Prefix + path })] }, Cancellation);
    }

    private async Task<List<string>> RemoteKeysAsync()
    {
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = bucket, Prefix = Prefix };
        ListObjectsV2Response page;
        do
        {
            page = await s3.ListObjectsV2Async(request, Cancellation);
            keys.AddRange((page.S3Objects ?? []).Select(item => item.Key[Prefix.Length..]));
            request.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);
        return keys;
    }

    private static long SyncPathsTicks(string text) => S3Sync.SyncPaths.ParseMtime(text) ?? throw new InvalidOperationException($"not an mtime: {text}");

    private static void Signal(string signal, int processId)
    {
        // bash's own kill: a slim image may have no /usr/bin/kill.
        using var kill = Process.Start("bash", ["-c", $"kill -{signal} {processId.ToString(CultureInfo.InvariantCulture)}"]);
        kill.WaitForExit();
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            try
            {
                if (await condition())
                    return;
            }
            catch (Exception exception) when (exception is AmazonServiceException or HttpRequestException or IOException && DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Not within {seconds} s: {what}");
            await Task.Delay(200, Cancellation);
        }
    }

    /// <summary>The sidecar executable as a container would run it, with the environment a tool gets.</summary>
    private sealed class Sidecar : IAsyncDisposable
    {
        private readonly Process process;
        private readonly StringBuilder output = new();
        private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(5) };
        private readonly int healthPort;

        private Sidecar(Process process, int healthPort) => (this.process, this.healthPort) = (process, healthPort);

        public string Output
        {
            get
            {
                lock (output)
                    return output.ToString();
            }
        }

        public bool HasExited => process.HasExited;

        public static Sidecar Start(MotoServer aws, string bucket, string prefix, string local, string[] arguments, Dictionary<string, string?> environment)
        {
            var healthPort = Ports.Free();
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll"), "s3sync", "--local", local, "--health-port", healthPort.ToString(CultureInfo.InvariantCulture) }.Concat(arguments))
                start.ArgumentList.Add(argument);
            foreach (var name in new[] { "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_PROFILE", "S3SYNC_EXCLUDE", "S3SYNC_STATE_FILE" })
                start.Environment.Remove(name);
            start.Environment["AWS_ACCESS_KEY_ID"] = MotoServer.AccessKeyId;
            start.Environment["AWS_SECRET_ACCESS_KEY"] = MotoServer.SecretAccessKey;
            start.Environment["AWS_REGION"] = MotoServer.Region;
            start.Environment["AWS_ENDPOINT_URL_S3"] = aws.Url.ToString();
            start.Environment["S3_BUCKET"] = bucket;
            start.Environment["S3_PREFIX"] = prefix;
            foreach (var (name, value) in environment)
            {
                if (value is null)
                    start.Environment.Remove(name);
                else
                    start.Environment[name] = value;
            }
            var process = Process.Start(start)!;
            var sidecar = new Sidecar(process, healthPort);
            process.OutputDataReceived += (_, e) => sidecar.Append(e.Data);
            process.ErrorDataReceived += (_, e) => sidecar.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return sidecar;
        }

        private void Append(string? line)
        {
            if (line is null)
                return;
            lock (output)
                output.AppendLine(line);
        }

        public async Task<(HttpStatusCode Status, string Body)> HealthAsync()
        {
            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{healthPort}/health", Cancellation);
                return (response.StatusCode, await response.Content.ReadAsStringAsync(Cancellation));
            }
            catch (HttpRequestException)
            {
                return (0, "");
            }
        }

        /// <summary>SIGTERM, as ECS or the launcher stops it; its exit code.</summary>
        public async Task<int> StopAsync()
        {
            Signal("TERM", process.Id);
            return await WaitForExitAsync();
        }

        public async Task<int> WaitForExitAsync()
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            process.WaitForExit();
            return process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
            process.Dispose();
            http.Dispose();
        }
    }
}

/// <summary>The names and metadata both sides share, without S3.</summary>
public sealed class S3SyncPathTests
{
    [Theory]
    [InlineData("report.md", "report (conflict 2026-12-04T20-15-03Z).md")]
    [InlineData("data/archive.tar.gz", "data/archive.tar (conflict 2026-12-04T20-15-03Z).gz")]
    [InlineData(".bashrc", ".bashrc (conflict 2026-12-04T20-15-03Z)")]
    [InlineData("Makefile", "Makefile (conflict 2026-12-04T20-15-03Z)")]
    public void A_conflict_copy_is_named_beside_the_file_with_the_time(string path, string expected)
    {
        var at = new DateTime(2026, 12, 4, 20, 15, 3, DateTimeKind.Utc);

        Assert.Equal(expected, S3Sync.SyncPaths.ConflictPath(path, at, _ => false));
        Assert.Equal(expected.Replace("Z)", "Z 2)", StringComparison.Ordinal), S3Sync.SyncPaths.ConflictPath(path, at, candidate => candidate == expected));
    }

    [Fact]
    public void An_mtime_survives_the_metadata_to_the_file_system_s_100_ns()
    {
        var ticks = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).Ticks + 1234567;

        Assert.Equal("1714979289.1234567", S3Sync.SyncPaths.FormatMtime(ticks));
        Assert.Equal(ticks, S3Sync.SyncPaths.ParseMtime(S3Sync.SyncPaths.FormatMtime(ticks)));
        Assert.Equal(new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).Ticks + 5_000_000, S3Sync.SyncPaths.ParseMtime("1714979289.5"));
        Assert.Null(S3Sync.SyncPaths.ParseMtime("yesterday"));
        Assert.Null(S3Sync.SyncPaths.ParseMtime("99999999999999999"));
    }

    [Theory]
    [InlineData("__pycache__/x.pyc", true)]
    [InlineData("src/__pycache__", true)]
    [InlineData("notes/.ipynb_checkpoints/a-checkpoint.ipynb", true)]
    [InlineData("draft.txt.swp", true)]
    [InlineData(".~lock.sheet.ods#", true)]
    [InlineData("data/run.tmp", true)]
    [InlineData("other/data/run.tmp", false)]
    [InlineData("swp.txt", false)]
    [InlineData("src/main.py", false)]
    public void Excludes_match_a_name_anywhere_or_a_path_from_the_top(string path, bool excluded)
    {
        var patterns = S3Sync.ExcludePatterns.Create([.. S3Sync.S3SyncSettings.DefaultExcludes, "data/*.tmp"], out var problem)!;

        Assert.Null(problem);
        Assert.Equal(excluded, patterns.IsExcluded(path));
    }

    [Theory]
    [InlineData("a//b.txt")]
    [InlineData("../escape.txt")]
    [InlineData("a/./b.txt")]
    public void Keys_that_cannot_be_local_paths_are_refused(string path) => Assert.NotNull(S3Sync.SyncPaths.CannotDownload(path));
}
