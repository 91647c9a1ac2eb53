namespace DataWorkspace.Web.Telemetry;

/// <summary>
/// A value an observable gauge reads from the database: read at most once per <paramref name="maxAge"/>, however many
/// collectors scrape (Prometheus, OTLP), and the last good value kept when a read fails, so a gauge never costs a query
/// per scrape nor fails the scrape.
/// </summary>
public sealed class CachedReading<T>(Func<T> read, TimeSpan maxAge, TimeProvider time, ILogger logger) where T : class
{
    private readonly Lock gate = new();
    private T? value;
    private DateTimeOffset readAt = DateTimeOffset.MinValue;

    /// <summary>The value, read again if it is older than the maximum age; null until a first read succeeds.</summary>
    public T? Value
    {
        get
        {
            lock (gate)
            {
                var now = time.GetUtcNow();
                if (now - readAt < maxAge) return value;
                readAt = now;
                try
                {
                    value = read();
                }
                catch (Exception exception)
                {
                    logger.LogWarning(exception, "Could not read a gauge's value; the last one stands");
                }

                return value;
            }
        }
    }
}
