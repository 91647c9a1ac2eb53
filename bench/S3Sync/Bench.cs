using System.Globalization;
using Amazon.S3;
using Amazon.S3.Model;
using DataWorkspace.TestSupport;

/// <summary>What every case shares: moto, a client of it, the bucket, the peer, and a scratch folder.</summary>
internal sealed record Bench(MotoServer Moto, IAmazonS3 S3, string Bucket, AwsCli Aws, string Work)
{
    /// <summary>A new empty folder under the scratch folder.</summary>
    public string Folder(string name)
    {
        var path = Path.Combine(Work, name);
        TestDirectories.Delete(path);
        return Directory.CreateDirectory(path).FullName;
    }

    /// <summary>The state file for one sidecar run, outside the synced folder so that the aws CLI's copy of that folder is the same.</summary>
    public string StateFile(string name) => Path.Combine(Work, "state", name + ".json");

    public SidecarProcess StartSidecar(string prefix, string local, string stateName, params string[] arguments) =>
        SidecarProcess.Start(Moto.Url, Bucket, prefix, local, StateFile(stateName), arguments);

    /// <summary>Every object under the prefix, by key relative to it, with its size.</summary>
    public async Task<Dictionary<string, long>> ListAsync(string prefix)
    {
        var found = new Dictionary<string, long>(StringComparer.Ordinal);
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix };
        ListObjectsV2Response page;
        do
        {
            page = await S3.ListObjectsV2Async(request);
            foreach (var item in page.S3Objects ?? [])
                found[item.Key[prefix.Length..]] = item.Size ?? 0;
            request.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);
        return found;
    }

    public async Task DeletePrefixAsync(string prefix)
    {
        var keys = (await ListAsync(prefix)).Keys.ToList();
        foreach (var chunk in keys.Chunk(1000))
            await S3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = Bucket, Objects = [.. chunk.Select(key => new KeyVersion { Key = prefix + key })] });
    }

    /// <summary>Throws unless the objects under <paramref name="prefix"/> are exactly the files of <paramref name="folder"/>, by name and size.</summary>
    public async Task<int> VerifyAsync(string prefix, string folder, Func<string, bool>? ignore = null)
    {
        var remote = await ListAsync(prefix);
        var local = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(path => (Key: Path.GetRelativePath(folder, path).Replace(Path.DirectorySeparatorChar, '/'), Size: new FileInfo(path).Length))
            .Where(file => ignore?.Invoke(file.Key) != true)
            .ToList();
        var missing = local.Where(file => !remote.TryGetValue(file.Key, out var size) || size != file.Size).Select(file => file.Key).ToList();
        var extra = remote.Keys.Where(key => !key.EndsWith('/') && ignore?.Invoke(key) != true).Except(local.Select(file => file.Key)).ToList();
        if (missing.Count > 0 || extra.Count > 0)
            throw new InvalidOperationException($"s3://{Bucket}/{prefix} and {folder} differ: {missing.Count} file(s) missing or of another size in S3 (e.g. {string.Join(", ", missing.Take(3))}), "
                + $"{extra.Count} object(s) not in the folder (e.g. {string.Join(", ", extra.Take(3))})");
        return local.Count;
    }

    public static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    /// <summary>MemAvailable from /proc/meminfo, in bytes.</summary>
    public static long MemoryAvailable()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException("/proc/meminfo has no MemAvailable");
    }

    public static string Megabytes(long bytes) => $"{bytes / 1024.0 / 1024:N0} MB";

    public static TimeSpan Median(IEnumerable<TimeSpan> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>The nearest-rank percentile.</summary>
    public static TimeSpan Percentile(IEnumerable<TimeSpan> values, double percent)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    public static void Row(string measure, string s3sync, string aws, string ratio, string target, bool? met) =>
        Console.WriteLine($"| {measure,-58} | {s3sync,-26} | {aws,-22} | {ratio,-12} | {target,-18} | {(met is null ? "Met?" : met.Value ? "met" : "NOT MET"),-7} |");
}
