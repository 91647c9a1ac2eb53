using Amazon.S3;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Files;
using DataWorkspace.Web.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tests;

/// <summary>Deployed, the page's uploads go to the bucket's regional and dual-stack host names, each URL signed for its own host.</summary>
public sealed class FilesBrowserEndpointsTests
{
    [Fact]
    public async Task Part_urls_alternate_between_the_regional_and_dual_stack_host_names_of_the_bucket()
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", MotoServer.AccessKeyId);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", MotoServer.SecretAccessKey);
        var storage = new StorageOptions { Bucket = "dw-files", BrowserEndpoints = ["https://s3.eu-west-2.amazonaws.com", "https://s3.dualstack.eu-west-2.amazonaws.com"] };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Aws:Region"] = "eu-west-2" }).Build();
        using var files = new FilesBucketClient(Options.Create(storage), configuration, TimeProvider.System);

        var hosts = new List<string>();
        foreach (var part in new[] { 1, 2 })
            hosts.Add(new Uri(await files.PresignAsync("home/abcd1234/a.bin", HttpVerb.PUT, TimeSpan.FromMinutes(15), r =>
            {
                r.UploadId = "upload";
                r.PartNumber = part;
            }, endpoint: part)).Host);

        Assert.Equal(["dw-files.s3.dualstack.eu-west-2.amazonaws.com", "dw-files.s3.eu-west-2.amazonaws.com"], hosts);
        Assert.Equal(["https://dw-files.s3.eu-west-2.amazonaws.com", "https://dw-files.s3.dualstack.eu-west-2.amazonaws.com"],
            (await files.PostUrlsAsync()).Select(url => url.TrimEnd('/')));
        Assert.Equal(2, files.BrowserEndpointCount);
    }
}
