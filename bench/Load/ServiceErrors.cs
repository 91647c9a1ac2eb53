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

    public ServiceErrors(RunningPlatform platform, IEnumerable<string> services)
    {
        var logs = platform.App.Services.GetRequiredService<ResourceLoggerService>();
        foreach (var service in services) watching.Add(Task.Run(() => WatchAsync(logs, service)));
    }

    public int Count => Volatile.Read(ref count);

    private async Task WatchAsync(ResourceLoggerService logs, string service)
    {
        List<string>? open = null;
        try
        {
            await foreach (var batch in logs.WatchAsync(service).WithCancellation(stop.Token))
            {
                foreach (var line in batch)
                {
                    var text = line.Content;
                    if (text.StartsWith("fail:", StringComparison.Ordinal) || text.StartsWith("crit:", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref count);
                        open = [text];
                        lock (entries)
                            if (entries.Count < EntriesKept) entries.Add((DateTimeOffset.UtcNow, service, open));
                    }
                    else if (open is not null && open.Count < LinesPerEntry && text.StartsWith(' '))
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

    /// <summary>The first entries, each once per distinct first two lines, with how often it was seen.</summary>
    public void Print(int distinct = 12)
    {
        lock (entries)
        {
            Console.WriteLine($"Errors the services logged: {Count}");
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
