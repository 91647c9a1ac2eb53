using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace DataWorkspace.Web.Telemetry;

/// <summary>
/// The web app's own meter and activity source, both named <c>DataWorkspace.Web</c>: the platform's telemetry collects
/// <c>DataWorkspace.*</c>, so what a feature records here reaches <c>/metrics</c> and the Aspire dashboard. Each feature
/// makes its own instruments on this one meter (<c>dataworkspace.tools.*</c>, <c>dataworkspace.explorer.*</c>...).
/// </summary>
public static class WebTelemetry
{
    public const string Name = "DataWorkspace.Web";

    public static readonly ActivitySource Activities = new(Name);

    /// <summary>The web app's meter; the factory gives every feature the same one.</summary>
    public static Meter WebMeter(this IMeterFactory meters) => meters.Create(Name);

    /// <summary>Marks the span failed with the exception's type, as OpenTelemetry's conventions record errors.</summary>
    public static void Failed(this Activity? activity, Exception exception)
    {
        if (activity is null) return;
        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity.SetTag("error.type", exception.GetType().FullName);
    }
}
