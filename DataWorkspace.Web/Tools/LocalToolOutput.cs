using System.Collections.Concurrent;
using System.Text;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// A local tool's stdout and stderr, line by line, to the web app's log (and so to the dashboard's logs over OTLP), in a
/// scope naming the tool, its host and its user's hash, never the user's email. Bounded, so a chatty tool cannot flood
/// the web app: a line is cut at <see cref="MaxLineLength"/> characters, and beyond <see cref="LinesPerSecond"/> lines a
/// second (after a burst of <see cref="Burst"/>) lines are left out and counted in a line that says so. The last lines
/// are kept to say why a tool that died did.
/// </summary>
public sealed class LocalToolOutput
{
    public const int MaxLineLength = 2000;
    public const int LinesPerSecond = 50;
    public const int Burst = 200;
    private const int LinesKept = 40;

    private readonly ILogger logger;
    private readonly string host;
    private readonly Dictionary<string, object?> scope;
    private readonly ConcurrentQueue<string> kept = new();
    private readonly Lock gate = new();
    private readonly TimeProvider time;
    private double tokens = Burst;
    private long refilledAt;
    private long dropped;

    public LocalToolOutput(ILogger logger, TimeProvider time, string toolName, string host, string? userHash, Guid instanceId)
    {
        this.logger = logger;
        this.time = time;
        refilledAt = time.GetTimestamp();
        this.host = host;
        scope = new Dictionary<string, object?>
        {
            ["dataworkspace.tool.name"] = toolName,
            ["dataworkspace.tool.host"] = host,
            ["dataworkspace.tool.instance_id"] = instanceId.ToString(),
        };
        if (userHash is not null) scope["dataworkspace.user.hash"] = userHash;
    }

    /// <summary>The last lines the tool wrote, oldest first.</summary>
    public IEnumerable<string> LastLines(int count) => kept.TakeLast(count);

    /// <summary>Reads <paramref name="stream"/> to its end, a line at a time, whatever the length of its lines.</summary>
    public async Task ReadAsync(Stream stream, string streamName)
    {
        var decoder = Encoding.UTF8.GetDecoder();
        var bytes = new byte[4096];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
        var line = new StringBuilder();
        try
        {
            int read;
            while ((read = await stream.ReadAsync(bytes)) > 0)
            {
                var count = decoder.GetChars(bytes, 0, read, chars, 0);
                for (var i = 0; i < count; i++)
                {
                    var c = chars[i];
                    if (c == '\n')
                    {
                        Line(line.ToString(), streamName);
                        line.Clear();
                    }
                    else if (c != '\r' && line.Length < MaxLineLength) line.Append(c);
                }
            }
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
            // The process was killed and its pipe closed under the read.
        }

        if (line.Length > 0) Line(line.ToString(), streamName);
    }

    /// <summary>One line the tool wrote: kept, and logged unless the tool is over its rate.</summary>
    public void Line(string text, string streamName)
    {
        kept.Enqueue(text);
        while (kept.Count > LinesKept) kept.TryDequeue(out _);
        long droppedBefore;
        lock (gate)
        {
            var now = time.GetTimestamp();
            tokens = Math.Min(Burst, tokens + time.GetElapsedTime(refilledAt, now).TotalSeconds * LinesPerSecond);
            refilledAt = now;
            if (tokens < 1)
            {
                dropped++;
                return;
            }

            tokens--;
            (droppedBefore, dropped) = (dropped, 0);
        }

        using (logger.BeginScope(scope))
        {
            if (droppedBefore > 0)
                logger.LogWarning("{ToolHost}: {Dropped} lines of output left out: more than {LinesPerSecond} a second", host, droppedBefore, LinesPerSecond);
            logger.LogInformation("{ToolHost} {Stream}: {Line}", host, streamName, text);
        }
    }
}
