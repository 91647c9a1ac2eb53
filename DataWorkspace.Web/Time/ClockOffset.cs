namespace DataWorkspace.Web.Time;

/// <summary>
/// The system clock moved by an offset read from a file (<c>Clock:OffsetFile</c>), so an end-to-end test can let time
/// pass for the app's business rules (access that expires, training that lapses) without waiting. Only registered when
/// that setting is present, which the test harness does; identity tokens always use the real clock. Lock-free: the
/// file is re-read at most every 200 ms by whichever caller finds the offset stale, and the others use the last value.
/// </summary>
public sealed class FileOffsetTimeProvider(string path) : TimeProvider
{
    private static readonly long RereadAfterTicks = TimeSpan.FromMilliseconds(200).Ticks;
    private long offsetTicks;
    private long readAtTicks = long.MinValue / 2;

    public override DateTimeOffset GetUtcNow()
    {
        var now = System.GetUtcNow();
        var readAt = Volatile.Read(ref readAtTicks);
        if (now.UtcTicks - readAt > RereadAfterTicks && Interlocked.CompareExchange(ref readAtTicks, now.UtcTicks, readAt) == readAt)
            Volatile.Write(ref offsetTicks, ReadOffset().Ticks);
        return now + TimeSpan.FromTicks(Volatile.Read(ref offsetTicks));
    }

    private TimeSpan ReadOffset()
    {
        try
        {
            return File.Exists(path) && TimeSpan.TryParse(File.ReadAllText(path).Trim(), global::System.Globalization.CultureInfo.InvariantCulture, out var read)
                ? read : TimeSpan.Zero;
        }
        catch (IOException)
        {
            return TimeSpan.FromTicks(Volatile.Read(ref offsetTicks)); // being rewritten: keep the last offset
        }
    }
}

public static class Clock
{
    /// <summary>
    /// The key of the real clock, for times another party keeps by its own real clock or that measure the platform's
    /// running, never a business rule: a machine client's Hawk timestamp, the proxy's activity reports, a tool's idle
    /// time and lifetime. Inject it with <c>[FromKeyedServices(Clock.Real)] TimeProvider</c>.
    /// </summary>
    public const string Real = "real";

    /// <summary>
    /// The business clock: the system clock, or one moved by the offset in <c>Clock:OffsetFile</c> when that is set
    /// (end-to-end tests); and the real clock under <see cref="Real"/>.
    /// </summary>
    public static IServiceCollection AddClock(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddKeyedSingleton(Real, TimeProvider.System);
        return configuration["Clock:OffsetFile"] is { Length: > 0 } offsetFile
            ? services.AddSingleton<TimeProvider>(new FileOffsetTimeProvider(offsetFile))
            : services.AddSingleton(TimeProvider.System);
    }
}
