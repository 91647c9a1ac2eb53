using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Storage;

/// <summary>
/// Makes sure the files bucket exists when the web app starts. Against an AWS emulator (<c>Aws:ServiceUrl</c>), whose
/// buckets live only as long as it runs, it is created when missing; deployed, the deployment provisions it, and a
/// missing bucket is logged as an error that says so, since users' files and tools' S3 access cannot work without it.
/// </summary>
public sealed class FilesBucket(IOptions<StorageOptions> options, IConfiguration configuration, ILogger<FilesBucket> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var bucket = options.Value.Bucket;
        if (bucket.Length == 0) return;
        var region = StorageOptions.Region(configuration);
        var emulator = configuration["Aws:ServiceUrl"] is { Length: > 0 } url ? url : null;
        var config = new AmazonS3Config { Timeout = TimeSpan.FromSeconds(10), MaxErrorRetry = 2 };
        if (emulator is null) config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        else (config.ServiceURL, config.ForcePathStyle, config.AuthenticationRegion) = (emulator, true, region);
        using var s3 = new AmazonS3Client(Amazon.Runtime.Credentials.DefaultAWSCredentialsIdentityResolver.GetCredentials(), config);
        try
        {
            await s3.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, cancellationToken);
            return;
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == System.Net.HttpStatusCode.NotFound && emulator is not null)
        {
            await CreateAsync(s3, bucket, region, cancellationToken);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            logger.LogError("The files bucket '{Bucket}' (Storage:Bucket) does not exist in {Region}: users' files and their tools' S3 access fail until it "
                + "does. The deployment provisions it: create it, or set Storage:Bucket to the bucket that holds home/ and teams/.", bucket, region);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            logger.LogError("The web app may not see the files bucket '{Bucket}' (Storage:Bucket): its role needs s3:ListBucket on arn:aws:s3:::{Bucket}.", bucket, bucket);
        }
        catch (AmazonClientException exception)
        {
            logger.LogError(exception, "Could not check the files bucket '{Bucket}' (Storage:Bucket) at {Endpoint}", bucket, emulator ?? $"S3 in {region}");
        }
    }

    private async Task CreateAsync(AmazonS3Client s3, string bucket, string region, CancellationToken cancellationToken)
    {
        try
        {
            // us-east-1 is S3's default location and must not be named.
            await s3.PutBucketAsync(new PutBucketRequest { BucketName = bucket, BucketRegionName = region == "us-east-1" ? null : region }, cancellationToken);
            logger.LogInformation("Created the files bucket '{Bucket}' in the AWS emulator", bucket);
        }
        catch (AmazonS3Exception exception) when (exception.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
            // Another replica or a previous start created it a moment ago.
        }
        catch (AmazonServiceException exception)
        {
            logger.LogError(exception, "Could not create the files bucket '{Bucket}' in the AWS emulator", bucket);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
