// bench/S3Sync: the s3sync sidecar against `aws s3 sync`, both talking to the same moto server started here.
// `speed` (the default), targets of issue 18: initial download and upload of 1,000 files of 10 KB at least 1.0x
// `aws s3 sync`; a local change reaches S3 within 1 second. `scale`: issue 18's "bad input" of a folder of 100,000
// files and a large file (--large-gb; moto keeps several copies of an object in memory while it completes a multipart
// upload, so 5 GB does not fit on a 23 GB machine: see bench/README.md), each synced with nothing lost, with the time
// and memory it takes. `all`: both. In the suite (1 minute) `speed` runs one round and 10 samples unless told otherwise.
using System.Globalization;
using Amazon.Runtime;
using Amazon.S3;
using DataWorkspace.Bench;
using DataWorkspace.TestSupport;

var mode = args.FirstOrDefault(argument => !argument.StartsWith("--", StringComparison.Ordinal)) ?? "speed";
if (mode is not ("speed" or "scale" or "all"))
{
    Console.Error.WriteLine("Usage: dotnet run -c Release --project bench/S3Sync [speed|scale|all] [--files 1000] [--rounds 3] [--samples 20] [--many 100000] [--large-gb 2] [--large-peer]");
    return 2;
}

int Option(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : fallback;
}

var moto = new MotoServer();
await moto.InitializeAsync();
var work = Directory.CreateTempSubdirectory("s3sync-bench-").FullName;
try
{
    using var s3 = new AmazonS3Client(new BasicAWSCredentials(MotoServer.AccessKeyId, MotoServer.SecretAccessKey),
        new AmazonS3Config { ServiceURL = moto.Url.ToString(), ForcePathStyle = true, AuthenticationRegion = MotoServer.Region });
    var bench = new Bench(moto, s3, "bench", new AwsCli(moto.Url), work);
    await s3.PutBucketAsync(bench.Bucket);
    Console.WriteLine($"s3sync bench on {Environment.ProcessorCount} cores, {bench.Aws.Version()}, moto at {moto.Url}; load {Bench.LoadAverage()}");
    if (mode is "speed" or "all")
        await SpeedBench.RunAsync(bench, Option("--files", 1000), Option("--rounds", BenchResults.InSuite ? 1 : 3), Option("--samples", BenchResults.InSuite ? 10 : 20));
    if (mode is "scale" or "all")
        await ScaleBench.RunAsync(bench, Option("--many", 100_000), Option("--large-gb", 2), args.Contains("--large-peer"));
    Console.WriteLine($"load at the end {Bench.LoadAverage()}");
    return 0;
}
finally
{
    await moto.DisposeAsync();
    TestDirectories.Delete(work);
}
