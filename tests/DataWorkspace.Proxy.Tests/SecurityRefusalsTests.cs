using System.Diagnostics.Metrics;
using DataWorkspace.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Proxy.Tests;

public sealed class SecurityRefusalsTests
{
    [Fact]
    public void A_refusal_is_logged_with_its_reason_and_detail_and_counted_under_its_reason()
    {
        var logged = new List<string>();
        using var services = new ServiceCollection()
            .AddMetrics()
            .AddLogging(logging => logging.AddProvider(new ListLoggerProvider(logged)))
            .AddSingleton<SecurityRefusals>()
            .BuildServiceProvider();
        var counted = new List<(long Value, string? Reason)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // This provider's meter only: other tests running alongside record refusals of their own.
            if (instrument.Meter.Name == SecurityRefusals.MeterName && instrument.Meter.Scope == services.GetRequiredService<IMeterFactory>()) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            counted.Add((value, tags.ToArray().FirstOrDefault(tag => tag.Key == "reason").Value as string)));
        listener.Start();

        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Host = new HostString("jupyter-1a2b3c4d.dataworkspace.localhost");
        context.Request.Path = "/lab";
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("203.0.113.9");
        services.GetRequiredService<SecurityRefusals>().Record(context, RefusalReason.AllowList, "203.0.113.9 is not on the tools' allow list");

        Assert.Equal([(1L, "allow_list")], counted);
        var line = Assert.Single(logged);
        Assert.Contains("allow_list", line);
        Assert.Contains("jupyter-1a2b3c4d.dataworkspace.localhost/lab", line);
        Assert.Contains("203.0.113.9 is not on the tools' allow list", line);
    }

    [Fact]
    public void Every_reason_has_its_own_tag() =>
        Assert.Equal(Enum.GetValues<RefusalReason>().Length, Enum.GetValues<RefusalReason>().Select(SecurityRefusals.TagOf).Distinct().Count(tag => !char.IsUpper(tag[0])));

    private sealed class ListLoggerProvider(List<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new ListLogger(lines);

        public void Dispose()
        {
        }
    }

    private sealed class ListLogger(List<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) lines.Add(formatter(state, exception));
        }
    }
}
