using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Amazon.S3;
using Amazon.S3.Model;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Storage;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// A local tool's files: a real Python process with boto3, started by the Local launcher with only what it gives a
/// tool, reaches the user's home folder in the files bucket (moto here), is refused everyone else's, and keeps working
/// as its credentials are renewed.
/// </summary>
public sealed class ToolFilesTests(WebFixture web, MotoServer aws) : IAsyncDisposable, IClassFixture<MotoServer>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-files-test-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly HttpClient http = new();

    /// <summary>A bucket no test has made: only the web app's start can have created it.</summary>
    private readonly string bucket = "files-" + Guid.NewGuid().ToString("N")[..12];

    private WebApplicationFactory<Program>? app;

    private WebApplicationFactory<Program> App(string? credentialLifetime = null, bool sidecars = false)
    {
        // The web app's own AWS credentials, as a deployment's task role would give them (moto takes any).
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", MotoServer.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", MotoServer.SecretAccessKey);
        return app ??= web.Factory.WithWebHostBuilder(host =>
        {
            host.UseSetting("Tools:LocalWorkDirectory", workDirectory)
                .UseSetting("Storage:Bucket", bucket)
                .UseSetting("Aws:ServiceUrl", aws.Url.ToString())
                .UseSetting("Aws:Region", MotoServer.Region);
            foreach (var (key, value) in S3Tool.TemplateSettings) host.UseSetting(key, value);
            if (credentialLifetime is not null) host.UseSetting("Storage:CredentialLifetime", credentialLifetime);
            // Each tool's s3sync and metrics sidecars run from the sidecars build, as the AppHost sets it.
            if (sidecars) host.UseSetting("Tools:LocalSidecars", SidecarsBuild.Dll());
        });
    }

    /// <summary>The emulator as the platform itself reaches it, to see what is really in the bucket.</summary>
    private static AmazonS3Client Emulator(Uri url) => new(
        new Amazon.Runtime.BasicAWSCredentials(MotoServer.AccessKeyId, MotoServer.SecretAccessKey),
        new AmazonS3Config { ServiceURL = url.ToString(), ForcePathStyle = true, AuthenticationRegion = MotoServer.Region });

    private async Task<PlatformIdentity> UserAsync()
    {
        var user = CatalogueData.NewUser("partner.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        await web.ScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test')", user.UserId);
        return user;
    }

    private async Task<string> TeamAsync(PlatformIdentity user)
    {
        var team = "files_team_" + user.Hash;
        await web.ScalarAsync<object>("INSERT INTO teams (id, slug, name, created_at) VALUES (gen_random_uuid(), $1, 'Files team', now())", team);
        await web.ScalarAsync<object>("INSERT INTO team_members (team_id, user_id, added_at) SELECT id, $1, now() FROM teams WHERE slug = $2", user.UserId, team);
        return team;
    }

    private async Task<HttpResponseMessage> PostAsync(string path, PlatformIdentity user)
    {
        using var client = App().CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(new { }) };
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
        return await client.SendAsync(request, Cancel);
    }

    /// <summary>Starts the user's files tool and waits until it runs; its instance and address.</summary>
    private async Task<(Guid Id, Uri Address)> StartToolAsync(PlatformIdentity user)
    {
        using var response = await PostAsync("/api/v1/tools/s3tool/start", user);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement.GetProperty("id").GetGuid();
        await App().Services.GetRequiredService<ToolInstances>().SpawnedAsync(id);
        var state = await web.ScalarAsync<string>("SELECT state || ' ' || coalesce(error, '') FROM tool_instances WHERE id = $1", id);
        Assert.True(state == "Running ", $"The files tool did not start: {state}");
        return (id, new Uri((await web.ScalarAsync<string>("SELECT address FROM tool_instances WHERE id = $1", id))!));
    }

    private Task<S3ToolAnswer> AskAsync(Uri tool, string operation, params (string, string)[] arguments) => S3Tool.AskAsync(http, tool, operation, Cancel, arguments);

    [Fact]
    public async Task The_files_bucket_exists_once_the_web_app_has_started()
    {
        _ = App().Services;
        using var s3 = Emulator(aws.Url);
        Assert.Contains(bucket, (await s3.ListBucketsAsync(Cancel)).Buckets.Select(b => b.BucketName));

        // Starting again (a restart, another replica) finds it and goes on.
        await using var again = web.Factory.WithWebHostBuilder(host => host.UseSetting("Storage:Bucket", bucket)
            .UseSetting("Aws:ServiceUrl", aws.Url.ToString()).UseSetting("Aws:Region", MotoServer.Region));
        _ = again.Services;
        Assert.Single((await s3.ListBucketsAsync(Cancel)).Buckets, b => b.BucketName == bucket);
    }

    [Fact]
    public async Task A_tool_writes_and_reads_its_home_folder_and_its_teams_and_is_refused_another_users()
    {
        var user = await UserAsync();
        var team = await TeamAsync(user);
        var other = await UserAsync();
        var (_, tool) = await StartToolAsync(user);
        var home = $"home/{user.Hash}/";
        var theirs = $"home/{other.Hash}/";
        using var s3 = Emulator(aws.Url);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = theirs + "secret.txt", ContentBody = "theirs" }, Cancel);

        // What the tool was given: where its files are, and a way to fetch credentials, not keys of its own.
        var environment = (await AskAsync(tool, "environment")).Environment;
        Assert.Equal(bucket, environment["S3_BUCKET"]);
        Assert.Equal(home, environment["S3_PREFIX"]);
        Assert.Equal($"teams/{team}/", environment["S3_TEAM_PREFIXES"]);
        Assert.StartsWith("http://127.0.0.1:", environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]);
        Assert.False(environment.ContainsKey("AWS_ACCESS_KEY_ID"), "static keys would take precedence over the renewing ones");
        Assert.False(environment.ContainsKey("AWS_SESSION_TOKEN"));

        var put = await AskAsync(tool, "put", ("key", home + "notes.txt"), ("body", "mine"));
        Assert.True(put.Ok, put.ToString());
        Assert.Equal("mine", (await AskAsync(tool, "get", ("key", home + "notes.txt"))).Body);
        Assert.Equal([home + "notes.txt"], (await AskAsync(tool, "list", ("prefix", home))).Keys);
        Assert.True((await AskAsync(tool, "copy", ("key", home + "copy.txt"), ("source", home + "notes.txt"))).Ok);
        Assert.True((await AskAsync(tool, "put", ("key", $"teams/{team}/shared.txt"), ("body", "ours"))).Ok);
        var deleted = await AskAsync(tool, "delete", ("keys", home + "copy.txt"));
        Assert.True(deleted.Ok, deleted.ToString());

        // Another user's home: not listed, read, written, copied from or deleted; nor the whole bucket listed.
        foreach (var (operation, arguments) in new (string, (string, string)[])[]
        {
            ("list", [("prefix", theirs)]),
            ("list", [("prefix", "")]),
            ("list", [("prefix", "home/")]),
            ("get", [("key", theirs + "secret.txt")]),
            ("put", [("key", theirs + "planted.txt"), ("body", "x")]),
            ("copy", [("key", home + "stolen.txt"), ("source", theirs + "secret.txt")]),
            ("delete", [("keys", $"{home}notes.txt,{theirs}secret.txt")]),
            ("put", [("key", $"{home}../{other.Hash}/planted.txt"), ("body", "x")]),
        })
        {
            var refused = await AskAsync(tool, operation, arguments);
            Assert.False(refused.Ok, $"{operation} {string.Join(' ', arguments)} was allowed: {refused}");
            Assert.Equal("AccessDenied", refused.Error);
        }

        Assert.Contains("is not authorized to perform: s3:ListBucket", (await AskAsync(tool, "list", ("prefix", theirs))).Message);
        var left = (await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "home/" }, Cancel)).S3Objects.Select(o => o.Key).Order();
        Assert.Equal(new[] { home + "notes.txt", theirs + "secret.txt" }.Order(), left);
    }

    [Fact]
    public async Task A_tools_credentials_renew_while_it_runs_with_its_teams_as_they_are_now()
    {
        // The shortest lifetime STS gives: the SDK renews such credentials at each call.
        App(credentialLifetime: "00:15:00");
        var user = await UserAsync();
        var (_, tool) = await StartToolAsync(user);
        var home = $"home/{user.Hash}/";

        var first = await AskAsync(tool, "put", ("key", home + "a.txt"), ("body", "a"));
        var second = await AskAsync(tool, "get", ("key", home + "a.txt"));
        Assert.True(first.Ok && second.Ok, $"{first}\n{second}");
        Assert.NotEqual(first.AccessKeys.Single(), second.AccessKeys.Single());

        // Joining a team reaches a running tool at its next renewal, without a restart.
        var team = await TeamAsync(user);
        var shared = await AskAsync(tool, "put", ("key", $"teams/{team}/joined.txt"), ("body", "b"));
        Assert.True(shared.Ok, shared.ToString());

        // The endpoint answers as ECS's does, with credentials that end when their lifetime does.
        var environment = (await AskAsync(tool, "environment")).Environment;
        using var request = new HttpRequestMessage(HttpMethod.Get, environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]);
        request.Headers.TryAddWithoutValidation("Authorization", environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]);
        using var response = await http.SendAsync(request, Cancel);
        var credentials = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var name in new[] { "AccessKeyId", "SecretAccessKey", "Token" }) Assert.NotEmpty(credentials.GetProperty(name).GetString()!);
        var expiration = credentials.GetProperty("Expiration").GetDateTimeOffset();
        Assert.InRange(expiration, DateTimeOffset.UtcNow.AddMinutes(13), DateTimeOffset.UtcNow.AddMinutes(16));
    }

    [Fact]
    public async Task The_credentials_endpoint_answers_only_a_running_instance_with_its_own_token()
    {
        var user = await UserAsync();
        var other = await UserAsync();
        var (_, tool) = await StartToolAsync(user);
        var (_, theirTool) = await StartToolAsync(other);
        var mine = (await AskAsync(tool, "environment")).Environment;
        var theirs = (await AskAsync(theirTool, "environment")).Environment;

        async Task<HttpStatusCode> FetchAsync(string url, string? token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (token is not null) request.Headers.TryAddWithoutValidation("Authorization", token);
            using var response = await http.SendAsync(request, Cancel);
            return response.StatusCode;
        }

        var url = mine["AWS_CONTAINER_CREDENTIALS_FULL_URI"];
        Assert.Equal(HttpStatusCode.OK, await FetchAsync(url, mine["AWS_CONTAINER_AUTHORIZATION_TOKEN"]));
        Assert.Equal(HttpStatusCode.Unauthorized, await FetchAsync(url, null));
        Assert.Equal(HttpStatusCode.Forbidden, await FetchAsync(url, "not-a-token"));
        // Another user's tool's token does not fetch this one's credentials.
        Assert.Equal(HttpStatusCode.Forbidden, await FetchAsync(url, theirs["AWS_CONTAINER_AUTHORIZATION_TOKEN"]));

        // Credentials fetched before the stop work at the gateway until then.
        using var fetched = new HttpRequestMessage(HttpMethod.Get, url);
        fetched.Headers.TryAddWithoutValidation("Authorization", mine["AWS_CONTAINER_AUTHORIZATION_TOKEN"]);
        using var fetchedResponse = await http.SendAsync(fetched, Cancel);
        var issued = JsonDocument.Parse(await fetchedResponse.Content.ReadAsStringAsync(Cancel)).RootElement;
        using var asTool = new AmazonS3Client(
            new Amazon.Runtime.SessionAWSCredentials(issued.GetProperty("AccessKeyId").GetString(), issued.GetProperty("SecretAccessKey").GetString(), issued.GetProperty("Token").GetString()),
            new AmazonS3Config { ServiceURL = mine["AWS_ENDPOINT_URL_S3"], ForcePathStyle = true, AuthenticationRegion = MotoServer.Region });
        await asTool.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = $"home/{user.Hash}/" }, Cancel);

        // A stopped tool's token fetches nothing more, and what it fetched stops working at once, not when it expires.
        using (var stopped = await PostAsync("/api/v1/tools/s3tool/stop", user)) Assert.Equal(HttpStatusCode.OK, stopped.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, await FetchAsync(url, mine["AWS_CONTAINER_AUTHORIZATION_TOKEN"]));
        var revoked = await Assert.ThrowsAsync<AmazonS3Exception>(() => asTool.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = $"home/{user.Hash}/" }, Cancel));
        Assert.Equal(HttpStatusCode.Forbidden, revoked.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await FetchAsync(theirs["AWS_CONTAINER_CREDENTIALS_FULL_URI"], theirs["AWS_CONTAINER_AUTHORIZATION_TOKEN"]));

        // A deactivated user's running tool gets no more credentials, even before its stop has gone through.
        await web.ScalarAsync<object>("UPDATE users SET deactivated_at = now(), deactivated_by = 'test' WHERE id = $1", other.UserId);
        App().Services.GetRequiredService<DataWorkspace.Web.Identity.DeactivatedUsers>().Forget();
        Assert.Equal(HttpStatusCode.Forbidden, await FetchAsync(theirs["AWS_CONTAINER_CREDENTIALS_FULL_URI"], theirs["AWS_CONTAINER_AUTHORIZATION_TOKEN"]));
    }

    [Fact]
    public async Task An_ecs_tool_gets_no_keys_when_it_runs_as_its_users_role_and_expiring_ones_when_there_is_none()
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", MotoServer.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", MotoServer.SecretAccessKey);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Aws:ServiceUrl"] = aws.Url.ToString(), ["Aws:Region"] = MotoServer.Region,
        }).Build();
        var storage = Microsoft.Extensions.Options.Options.Create(new StorageOptions { Bucket = bucket });
        using var credentials = new ToolCredentials(storage, configuration, web.Factory.Services.GetRequiredService<IServiceScopeFactory>(), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ToolCredentials>.Instance);
        var ecsOptions = new DataWorkspace.Web.Tools.Ecs.EcsOptions { ServiceUrl = aws.Url.ToString(), Region = MotoServer.Region, Cluster = "tools" };
        using var ecs = new DataWorkspace.Web.Tools.Ecs.EcsClient(ecsOptions, new Amazon.Runtime.BasicAWSCredentials(MotoServer.AccessKeyId, MotoServer.SecretAccessKey));
        ToolStorage On(string? userTaskRole)
        {
            ecsOptions.UserTaskRoleArn = userTaskRole;
            var launcher = new DataWorkspace.Web.Tools.Ecs.EcsLauncher(ecs, Microsoft.Extensions.Options.Options.Create(ecsOptions),
                Microsoft.Extensions.Logging.Abstractions.NullLogger<DataWorkspace.Web.Tools.Ecs.EcsLauncher>.Instance);
            return new ToolStorage(storage, configuration, credentials, launcher, Microsoft.Extensions.Logging.Abstractions.NullLogger<ToolStorage>.Instance);
        }

        var user = await UserAsync();
        // The task runs as the user's role, whose credentials the SDK renews from the ECS agent: static keys would win over them.
        var asTheirRole = await On("arn:aws:iam::123456789012:role/dw-user-{userhash}").EnvironmentAsync(Guid.NewGuid(), user.UserId, Cancel);
        Assert.Equal($"home/{user.Hash}/", asTheirRole["S3_PREFIX"]);
        Assert.DoesNotContain(asTheirRole.Keys, name => name is "AWS_ACCESS_KEY_ID" or "AWS_SECRET_ACCESS_KEY" or "AWS_SESSION_TOKEN" or "AWS_CONTAINER_CREDENTIALS_FULL_URI");

        // Without a role per user: keys for the user's prefixes only, which say when they expire.
        var withKeys = await On(null).EnvironmentAsync(Guid.NewGuid(), user.UserId, Cancel);
        Assert.NotEqual(MotoServer.AccessKeyId, withKeys["AWS_ACCESS_KEY_ID"]);
        Assert.NotEmpty(withKeys["AWS_SESSION_TOKEN"]);
        Assert.InRange(DateTimeOffset.Parse(withKeys["S3_CREDENTIALS_EXPIRE"], System.Globalization.CultureInfo.InvariantCulture),
            DateTimeOffset.UtcNow.AddHours(11), DateTimeOffset.UtcNow.AddHours(13));
    }

    [Fact]
    public async Task A_file_in_a_local_tools_home_reaches_its_users_prefix_and_comes_back_when_the_tool_starts_again_on_an_empty_folder()
    {
        var user = await UserAsync();
        _ = App(sidecars: true);
        var (id, _) = await StartToolAsync(user);
        var folder = Path.Combine(workDirectory, $"s3tool-{user.Hash}");
        await File.WriteAllTextAsync(Path.Combine(folder, "analysis.txt"), "the tool's work", Cancel);

        // s3sync, beside the tool with its S3 settings and renewing credentials, sends it to the user's home prefix.
        using var s3 = Emulator(aws.Url);
        var key = $"home/{user.Hash}/analysis.txt";
        await UntilAsync($"{key} in S3", async () =>
            (await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = key }, Cancel)).S3Objects?.Count > 0);
        using (var stored = await s3.GetObjectAsync(bucket, key, Cancel))
        using (var reader = new StreamReader(stored.ResponseStream))
            Assert.Equal("the tool's work", await reader.ReadToEndAsync(Cancel));

        // Stopped, its sidecars stop with it; started again on an empty folder (as on another machine), the file is back.
        using (var stop = await PostAsync("/api/v1/tools/s3tool/stop", user))
            Assert.True(stop.IsSuccessStatusCode, await stop.Content.ReadAsStringAsync(Cancel));
        await UntilAsync("the sidecars stopped", () => Task.FromResult(!File.Exists(Path.Combine(workDirectory, ".sidecars", id.ToString("N")))));
        Directory.Delete(folder, recursive: true);
        await StartToolAsync(user);
        var restored = Path.Combine(folder, "analysis.txt");
        await UntilAsync("the file back in the tool's home", () => Task.FromResult(File.Exists(restored)));
        Assert.Equal("the tool's work", await File.ReadAllTextAsync(restored, Cancel));
    }

    /// <summary>Asks until <paramref name="condition"/> holds; a minute without it fails the test with what was awaited.</summary>
    private static async Task UntilAsync(string what, Func<Task<bool>> condition)
    {
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        patience.CancelAfter(TimeSpan.FromMinutes(1));
        while (!await condition())
        {
            try
            {
                await Task.Delay(100, patience.Token);
            }
            catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
            {
                Assert.Fail($"Still waiting for {what} after a minute.");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        if (app is not null) await app.DisposeAsync();
        TestDirectories.Delete(workDirectory);
    }
}
