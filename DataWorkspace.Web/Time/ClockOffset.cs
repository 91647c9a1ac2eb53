namespace DataWorkspace.Web.Time;

/// <summary>
/// The system clock moved by an offset read from a file (<c>Clock:OffsetFile</c>), so an end-to-end test can let time
/// pass for the app's business rules (access that expires, training that lapses) without waiting. Only registered when
/// that setting is present, which the AppHost does only for tests; identity tokens always use the real clock.
/// </summary>
public sealed class FileOffsetTimeProvider(string path) : TimeProvider
{
    private static readonly TimeSpan RereadAfter = TimeSpan.FromMilliseconds(200);
    private readonly Lock gate = new();
    private TimeSpan offset;
    private DateTimeOffset readAt = DateTimeOffset.MinValue;

    public override DateTimeOffset GetUtcNow()
    {
        var now = TimeProvider.System.GetUtcNow();
        lock (gate)
        {
            if (now - readAt > RereadAfter)
            {
                offset = File.Exists(path) && TimeSpan.TryParse(File.ReadAllText(path).Trim(), global::System.Globalization.CultureInfo.InvariantCulture, out var read) ? read : TimeSpan.Zero;
                readAt = now;
            }

            return now + offset;
        }
    }
}
