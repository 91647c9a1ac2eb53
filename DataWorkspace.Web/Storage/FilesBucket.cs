using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using DataWorkspace.Deployment;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Storage;

/// <summary>
/// Makes sure the files bucket exists when the web app starts. Against an AWS emulator (<c>Aws:ServiceUrl</c>), whose
/// buckets live only as long as it runs, it is created when missing; deployed, the deployment provisions it, and a
/// missing bucket is logged as an error that says so, since users' files and tools' S3 access cannot work without it.
/// Then it sets the rules the "Your files" page needs, at every start (each replaces only the platform's own rule):
/// CORS for <see cref="StorageOptions.BrowserOrigins"/>, and a lifecycle rule that aborts multipart uploads left
/// incomplete for a day.
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
        using var s3 = new AmazonS3Client(PlatformAwsCredentials.Instance, config);
        try
        {
            await s3.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, cancellationToken);
            await SetRulesAsync(s3, bucket, emulator is not null, cancellationToken);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == System.Net.HttpStatusCode.NotFound && emulator is not null)
        {
            if (await CreateAsync(s3, bucket, region, cancellationToken)) await SetRulesAsync(s3, bucket, emulator is not null, cancellationToken);
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
        catch (Exception exception) when (NoAwsCredentialsException.In(exception) is { } missing)
        {
            logger.LogError(missing.InnerException, "Could not check the files bucket '{Bucket}' (Storage:Bucket) or set its CORS rule: {Advice} Its rules are set at the next start.",
                bucket, NoAwsCredentialsException.Advice);
        }
        catch (Exception exception) when (exception is AmazonClientException or HttpRequestException)
        {
            // S3 not answering must not stop the web app: the files API says so to each request until it answers.
            logger.LogError(exception, "Could not check the files bucket '{Bucket}' (Storage:Bucket) at {Endpoint}", bucket, emulator ?? $"S3 in {region}");
        }
    }

    private async Task<bool> CreateAsync(AmazonS3Client s3, string bucket, string region, CancellationToken cancellationToken)
    {
        try
        {
            // us-east-1 is S3's default location and must not be named.
            await s3.PutBucketAsync(new PutBucketRequest { BucketName = bucket, BucketRegionName = region == "us-east-1" ? null : region }, cancellationToken);
            logger.LogInformation("Created the files bucket '{Bucket}' in the AWS emulator", bucket);
            return true;
        }
        catch (AmazonS3Exception exception) when (exception.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
            // Another replica or a previous start created it a moment ago.
            return true;
        }
        catch (AmazonServiceException exception)
        {
            logger.LogError(exception, "Could not create the files bucket '{Bucket}' in the AWS emulator", bucket);
            return false;
        }
    }

    /// <summary>The id of the platform's own CORS and lifecycle rules, so that rules others set on the bucket stay.</summary>
    public const string RuleId = FilesBucketCors.RuleId;

    /// <summary>The CORS rule the "Your files" page needs (<see cref="FilesBucketCors"/>) for these origins.</summary>
    public static CORSRule BrowserRule(IReadOnlyList<string> origins) => new()
    {
        Id = RuleId,
        AllowedOrigins = [.. origins],
        AllowedMethods = [.. FilesBucketCors.AllowedMethods],
        AllowedHeaders = [.. FilesBucketCors.AllowedHeaders],
        ExposeHeaders = [.. FilesBucketCors.ExposedHeaders],
        MaxAgeSeconds = FilesBucketCors.MaxAgeSeconds,
    };

    private async Task SetRulesAsync(AmazonS3Client s3, string bucket, bool onEmulator, CancellationToken cancellationToken)
    {
        var origins = options.Value.BrowserOrigins;
        if (origins.Count > 0)
        {
            try
            {
                List<CORSRule> others;
                try
                {
                    var current = await s3.GetCORSConfigurationAsync(new GetCORSConfigurationRequest { BucketName = bucket }, cancellationToken);
                    others = [.. (current.Configuration?.Rules ?? []).Where(r => r.Id != RuleId)];
                }
                catch (AmazonS3Exception exception) when (exception.ErrorCode == "NoSuchCORSConfiguration")
                {
                    others = [];
                }

                await s3.PutCORSConfigurationAsync(new PutCORSConfigurationRequest
                {
                    BucketName = bucket,
                    Configuration = new CORSConfiguration { Rules = [.. others, BrowserRule(origins)] },
                }, cancellationToken);
            }
            catch (Exception exception) when (exception is AmazonServiceException or AmazonClientException or HttpRequestException)
            {
                logger.LogError(exception, "Could not set the CORS rule of the files bucket '{Bucket}' for {Origins}: the \"Your files\" page cannot upload or preview "
                    + "until it is set (the web app's role needs s3:GetBucketCORS and s3:PutBucketCORS, or the deployment sets the rule)", bucket, string.Join(", ", origins));
            }
        }

        try
        {
            List<LifecycleRule> others;
            try
            {
                var current = await s3.GetLifecycleConfigurationAsync(new GetLifecycleConfigurationRequest { BucketName = bucket }, cancellationToken);
                others = [.. (current.Configuration?.Rules ?? []).Where(r => r.Id != RuleId)];
            }
            catch (AmazonS3Exception exception) when (exception.ErrorCode == "NoSuchLifecycleConfiguration")
            {
                others = [];
            }

            await s3.PutLifecycleConfigurationAsync(new PutLifecycleConfigurationRequest
            {
                BucketName = bucket,
                Configuration = new LifecycleConfiguration
                {
                    Rules =
                    [
                        .. others,
                        new LifecycleRule
                        {
                            Id = RuleId,
                            Status = LifecycleRuleStatus.Enabled,
                            Filter = new LifecycleFilter { LifecycleFilterPredicate = new LifecyclePrefixPredicate { Prefix = "" } },
                            AbortIncompleteMultipartUpload = new LifecycleRuleAbortIncompleteMultipartUpload { DaysAfterInitiation = 1 },
                        },
                    ],
                },
            }, cancellationToken);
        }
        catch (Exception exception) when (exception is AmazonServiceException or AmazonClientException or HttpRequestException)
        {
            // An emulator may not implement lifecycle rules, and its uploads go when it stops.
            logger.Log(onEmulator ? LogLevel.Debug : LogLevel.Warning, exception, "The files bucket '{Bucket}' took no lifecycle rule to abort incomplete multipart uploads: "
                + "their parts stay (and cost) until one is set (the web app's role needs s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration, or the deployment sets it)", bucket);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
