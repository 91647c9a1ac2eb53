namespace DataWorkspace.Proxy.Forwarding;

internal static class ExceptionCauses
{
    /// <summary>An exception and everything under it, depth first (the forwarder wraps a failed body's error with the request's).</summary>
    public static IEnumerable<Exception> Causes(this Exception? exception)
    {
        if (exception is null) yield break;
        yield return exception;
        var inner = exception is AggregateException aggregate ? aggregate.InnerExceptions : exception.InnerException is { } one ? [one] : [];
        foreach (var cause in inner.SelectMany(Causes)) yield return cause;
    }
}
