using DataWorkspace.Security;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Net.Http.Headers;

namespace DataWorkspace.Web.Security;

/// <summary>
/// Refuses every request that would change something (any method but GET, HEAD, OPTIONS, TRACE) unless it comes
/// from the portal's own pages (<see cref="RequestOrigin"/>): a tool's or visualisation's page is the same site, so
/// the user's cookies go with its requests, and without this it could stop their tools or send requests in their
/// name. The APIs also take JSON only, which no cross-site form can send. Routes marked
/// <see cref="NotForBrowsersAttribute"/> are left to their own credentials, and so are requests made with a personal API
/// token (whatever their Origin): only code holding the token can send it.
/// </summary>
public sealed class OriginGuard(string portalOrigin, SecurityRefusals refusals)
{
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        // An error page re-executed for a refused request is the refusal's answer, not a new request.
        if (!RequestOrigin.ChangesState(request.Method) || context.Features.Get<IStatusCodeReExecuteFeature>() is not null)
        {
            await next(context);
            return;
        }

        var endpoint = context.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<NotForBrowsersAttribute>() is not null)
        {
            await next(context);
            return;
        }

        // A personal API token is no ambient credential: a browser never adds it by itself, so a page elsewhere cannot borrow it.
        if (!context.User.HasClaim(claim => claim.Type == DataWorkspace.Contracts.ApiTokenGrant.Claim) && RequestOrigin.Refusal(request, portalOrigin) is { } foreign)
        {
            refusals.Record(context, RefusalReason.ForeignOrigin, foreign);
            await Refusal.WriteAsync(context, StatusCodes.Status403Forbidden, "Not sent from the portal",
                $"This request would change something, and {foreign}. Only the portal's own pages can make changes: open {portalOrigin}/ and do it there.");
            return;
        }

        if (Refusal.IsApi(endpoint) && CarriesBody(request) && !TakesContentType(endpoint!, request.ContentType))
        {
            var sent = string.IsNullOrEmpty(request.ContentType) ? "no Content-Type" : $"Content-Type '{request.ContentType}'";
            refusals.Record(context, RefusalReason.NotJson, sent);
            await Refusal.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType, "JSON only",
                $"This API takes a JSON body, and the request had a body with {sent}. Send the body as JSON with 'Content-Type: application/json' (or no body at all).");
            return;
        }

        await next(context);
    }

    private static bool CarriesBody(HttpRequest request) =>
        request.ContentLength > 0 || request.Headers.ContentType.Count > 0 || request.Headers.TransferEncoding.Count > 0;

    /// <summary>JSON (<c>application/json</c>, <c>application/*+json</c>), or a type the route declares it accepts (a form upload, say).</summary>
    private static bool TakesContentType(Endpoint endpoint, string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var sent)) return false;
        if (sent.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || sent.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase)) return true;
        var declared = endpoint.Metadata.GetMetadata<IAcceptsMetadata>()?.ContentTypes ?? [];
        return declared.Any(type => MediaTypeHeaderValue.TryParse(type, out var accepted) && sent.IsSubsetOf(accepted));
    }
}
