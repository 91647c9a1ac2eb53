using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using DataWorkspace.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Bench.Load;

/// <summary>
/// The errors the platform's services log while the load runs (a 5xx in Production says nothing in its body): each
/// "fail:" or "crit:" entry of the services' console logs, with the lines that follow it (message, exception).
/// </summary>
public sealed class ServiceErrors : IAsyncDisposable
{
    private const int LinesPerEntry = 8;
    private const int EntriesKept = 200;
    private readonly CancellationTokenSource stop = new();
    private readonly List<Task> watching = [];
    private readonly List<(DateTimeOffset At, string Service, List<string> Lines)> entries = [];
    private int count;
    private int lines;

    public ServiceErrors(RunningPlatform platform, IEnumerable<string> services)
    {
        var logs = platform.App.Services.GetRequiredService<ResourceLoggerService>();
        var model = platform.App.Services.GetRequiredService<DistributedApplicationModel>();
        foreach (var service in model.Resources.Where(resource => services.Contains(resource.Name)))
            watching.Add(Task.Run(() => WatchAsync(logs, service)));
    }

    public int Count => Volatile.Read(ref count);

    private async Task WatchAsync(ResourceLoggerService logs, IResource service)
    {
        List<string>? open = null;
        try
        {
            await foreach (var batch in logs.WatchAsync(service).WithCancellation(stop.Token))
            {
                foreach (var line in batch)
                {
                    var text = line.Content;
                    Interlocked.Increment(ref lines);
                    // The orchestrator may put a timestamp before the logger's own "fail: Category[id]".
                    var level = text.AsSpan(0, Math.Min(text.Length, 48));
                    if (level.Contains("fail: ", StringComparison.Ordinal) || level.Contains("crit: ", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref count);
                        open = [text];
                        lock (entries)
                            if (entries.Count < EntriesKept) entries.Add((DateTimeOffset.UtcNow, service.Name, open));
                    }
                    else if (open is not null && open.Count < LinesPerEntry && !StartsEntry(level))
                    {
                        lock (entries) open.Add(text);
                    }
                    else
                    {
                        open = null;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The run is over.
        }
    }

    private static bool StartsEntry(ReadOnlySpan<char> start) =>
        start.Contains("info: ", StringComparison.Ordinal) || start.Contains("warn: ", StringComparison.Ordinal) || start.Contains("dbug: ", StringComparison.Ordinal)
        || start.Contains("trce: ", StringComparison.Ordinal) || start.Contains("fail: ", StringComparison.Ordinal) || start.Contains("crit: ", StringComparison.Ordinal);

    /// <summary>The first entries, each once per distinct first two lines, with how often it was seen.</summary>
    public void Print(int distinct = 12)
    {
        lock (entries)
        {
            Console.WriteLine($"Errors the services logged: {Count} (of {Volatile.Read(ref lines):N0} lines)");
            foreach (var group in entries.GroupBy(e => e.Service + string.Join('\n', e.Lines.Take(2))).Take(distinct))
            {
                var first = group.First();
                Console.WriteLine($"  {group.Count()} x [{first.Service}] first at {first.At:HH:mm:ss.fff}:");
                foreach (var line in first.Lines) Console.WriteLine("      " + line.Trim()[..Math.Min(line.Trim().Length, 300)]);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await Task.WhenAll(watching).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        stop.Dispose();
    }
}
