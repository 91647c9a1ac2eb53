using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Amazon.S3;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>Runs alone: it takes the AWS credentials out of the process's environment, which every other test that reaches the emulator needs.</summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class WithoutAwsCredentials;

/// <summary>
/// "Your files" on a web app started with no AWS credentials at all (none in the environment, no profile, no role):
/// it starts, each call that needs AWS says so and what to set, and it works once they are there, without a restart.
/// </summary>
[Collection(typeof(WithoutAwsCredentials))]
public sealed class FilesWithoutAwsCredentialsTests(WebFixture web, MotoServer aws) : IClassFixture<MotoServer>, IDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>Every place the SDK's default chain looks, emptied; the instance metadata service is not asked (this is no EC2 machine).</summary>
    private static readonly Dictionary<string, string?> NoCredentials = new()
    {
        ["AWS_ACCESS_KEY_ID"] = null,
        ["AWS_SECRET_ACCESS_KEY"] = null,
        ["AWS_SECRET_KEY"] = null,
        ["AWS_SESSION_TOKEN"] = null,
        ["AWS_PROFILE"] = null,
        ["AWS_WEB_IDENTITY_TOKEN_FILE"] = null,
        ["AWS_ROLE_ARN"] = null,
        ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = null,
        ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = null,
        ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(Path.GetTempPath(), "dw-no-aws-credentials-" + Guid.NewGuid().ToString("N")),
        ["AWS_CONFIG_FILE"] = Path.Combine(Path.GetTempPath(), "dw-no-aws-config-" + Guid.NewGuid().ToString("N")),
        ["AWS_EC2_METADATA_DISABLED"] = "true",
    };

    private readonly Dictionary<string, string?> before = NoCredentials.Keys.ToDictionary(name => name, Environment.GetEnvironmentVariable);
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-files-nocreds-test-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string bucket = "files-" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Without_aws_credentials_the_web_app_starts_says_what_to_set_and_works_once_they_are_there()
    {
        using (var emulator = new AmazonS3Client(new Amazon.Runtime.BasicAWSCredentials(MotoServer.AccessKeyId, MotoServer.SecretAccessKey),
                   new AmazonS3Config { ServiceURL = aws.Url.ToString(), ForcePathStyle = true, AuthenticationRegion = MotoServer.Region }))
            await emulator.PutBucketAsync(bucket, Cancel);
        var user = CatalogueData.NewUser("partner.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        var home = $"home/{user.Hash}/";

        foreach (var (name, value) in NoCredentials) Environment.SetEnvironmentVariable(name, value);
        await using var app = web.Factory.WithWebHostBuilder(host => host
            .UseSetting("Tools:LocalWorkDirectory", workDirectory)
            .UseSetting("Storage:Bucket", bucket)
            .UseSetting("Aws:ServiceUrl", aws.Url.ToString())
            .UseSetting("Aws:Region", MotoServer.Region));
        using var client = app.CreateClient();

        async Task<(HttpStatusCode Status, string? MediaType, JsonElement Json)> CallAsync(HttpMethod method, string path, object? body = null)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null) request.Content = JsonContent.Create(body);
            request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
            using var response = await client.SendAsync(request, Cancel);
            var text = await response.Content.ReadAsStringAsync(Cancel);
            return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
        }

        // The page's first call needs no AWS: the user's folders come from the catalogue.
        var roots = await CallAsync(HttpMethod.Get, "/api/v1/files/roots");
        Assert.True(roots.Status == HttpStatusCode.OK, roots.Json.ToString());

        var calls = new (string What, HttpMethod Method, string Path, object? Body)[]
        {
            ("list", HttpMethod.Get, $"/api/v1/files/list?prefix={home}", null),
            ("count", HttpMethod.Get, $"/api/v1/files/count?prefix={home}", null),
            ("upload", HttpMethod.Post, "/api/v1/files/uploads", new { files = new[] { new { key = home + "a.csv", size = 1 } } }),
            ("new folder", HttpMethod.Post, "/api/v1/files/folders", new { prefix = home + "reports/" }),
            ("download", HttpMethod.Post, "/api/v1/files/download", new { key = home + "a.csv" }),
            ("credentials for scripts", HttpMethod.Get, "/api/v1/aws_credentials", null),
        };
        foreach (var (what, method, path, body) in calls)
        {
            var (status, mediaType, json) = await CallAsync(method, path, body);
            Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{what}: {(int)status} {json}");
            Assert.Equal("application/problem+json", mediaType);
            Assert.Contains("no AWS credentials", json.GetProperty("title").GetString());
            Assert.Contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", json.GetProperty("detail").GetString());
        }

        // Credentials given to the running web app: the same calls work, with no restart.
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", MotoServer.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", MotoServer.SecretAccessKey);
        var listed = await CallAsync(HttpMethod.Get, $"/api/v1/files/list?prefix={home}");
        Assert.True(listed.Status == HttpStatusCode.OK, listed.Json.ToString());
        var created = await CallAsync(HttpMethod.Post, "/api/v1/files/folders", new { prefix = home + "reports/" });
        Assert.True(created.Status == HttpStatusCode.Created, created.Json.ToString());
        var issued = await CallAsync(HttpMethod.Get, "/api/v1/aws_credentials");
        Assert.True(issued.Status == HttpStatusCode.OK, issued.Json.ToString());
    }

    [Fact]
    public async Task Without_aws_credentials_a_web_app_that_launches_tools_on_ecs_starts_and_its_aws_calls_say_what_to_set()
    {
        foreach (var (name, value) in NoCredentials) Environment.SetEnvironmentVariable(name, value);
        await using var app = web.Factory.WithWebHostBuilder(host => host
            .UseSetting("Tools:LocalWorkDirectory", workDirectory)
            .UseSetting("Tools:Launcher", "Ecs")
            .UseSetting("Tools:Ecs:ServiceUrl", aws.Url.ToString())
            .UseSetting("Tools:Ecs:Region", MotoServer.Region)
            .UseSetting("Tools:Ecs:Cluster", "tools")
            .UseSetting("Tools:Ecs:Subnets:0", "subnet-00000000")
            .UseSetting("Tools:Ecs:SecurityGroups:0", "sg-00000000")
            .UseSetting("Tools:Ecs:ExecutionRoleArn", "arn:aws:iam::000000000000:role/dataworkspace-tool-execution")
            .UseSetting("Storage:Bucket", bucket)
            .UseSetting("Aws:ServiceUrl", aws.Url.ToString())
            .UseSetting("Aws:Region", MotoServer.Region));
        using var client = app.CreateClient();
        using (var health = await client.GetAsync("/health", Cancel)) Assert.NotEqual(HttpStatusCode.InternalServerError, health.StatusCode);

        var ecs = app.Services.GetRequiredService<DataWorkspace.Web.Tools.Ecs.EcsClient>();
        var described = await Assert.ThrowsAsync<DataWorkspace.Web.Storage.NoAwsCredentialsException>(() => ecs.DescribeTasksAsync("tools", ["none"], Cancel));
        Assert.Contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", described.Message);
        var tools = app.Services.GetRequiredService<DataWorkspace.Web.Tools.ToolCredentials>();
        await Assert.ThrowsAsync<DataWorkspace.Web.Storage.NoAwsCredentialsException>(() => tools.IssueAsync("someone", new DataWorkspace.Web.Tools.ToolPrefixes("home/00000000/", []), Cancel));

        // Given credentials, the same clients reach ECS and STS.
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", MotoServer.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", MotoServer.SecretAccessKey);
        Assert.Equal("tools", (await ecs.CreateClusterAsync("tools", Cancel)).ClusterName);
        Assert.False(string.IsNullOrEmpty((await tools.IssueAsync("someone", new DataWorkspace.Web.Tools.ToolPrefixes("home/00000000/", []), Cancel)).SessionToken));
    }

    public void Dispose()
    {
        foreach (var (name, value) in before) Environment.SetEnvironmentVariable(name, value);
        TestDirectories.Delete(workDirectory);
    }
}
