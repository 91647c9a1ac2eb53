using DataWorkspace.Contracts;
using DataWorkspace.Web.ApiTokens;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.ToolsAccess;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.AccessRequests;

public sealed record MyAccessItem(string Slug, string Name, string How, DateTimeOffset? ExpiresAt);

/// <summary>The restricted datasets the caller may read (open ones are readable by everyone) and whether they may launch tools.</summary>
public sealed record MyAccess(IReadOnlyList<MyAccessItem> Datasets, MyToolsAccess Tools);

public sealed record MyToolsAccess(bool Granted, string? Source, DateTimeOffset? ExpiresAt);

/// <summary>What the caller may read and use, in the catalogue's JSON API.</summary>
public static class MyAccessApi
{
    public static IEndpointRouteBuilder MapMyAccessApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Catalogue").RequireScope(ApiScopes.CatalogueRead);

        api.MapGet("/me/access", [EndpointSummary("Your access"), EndpointDescription("The restricted datasets you may read and until when, and your other permissions.")] async Task<Ok<MyAccess>> (HttpContext context, CatalogueDbContext catalogue, DatasetAccess access, ToolsAccessService tools, TimeProvider time, CancellationToken cancellationToken) =>
        {
            var reader = context.User.AsReader();
            var active = catalogue.Permissions.ActiveAt(time.GetUtcNow());
            var restricted = await catalogue.Datasets.AsNoTracking()
                .Where(d => d.Published && d.DeletedAt == null && d.AccessType == AccessType.RequiresAuthorization)
                .Where(access.ReadableBy(reader))
                .Select(d => new
                {
                    d.Slug,
                    d.Name,
                    ByDomain = d.AuthorizedEmailDomains.Contains(reader.EmailDomain),
                    Expires = active.Where(p => p.DatasetId == d.Id && p.UserId == reader.UserId)
                        .OrderByDescending(p => p.ExpiresAt == null).ThenByDescending(p => p.ExpiresAt).Select(p => p.ExpiresAt).FirstOrDefault(),
                })
                .OrderBy(d => d.Name)
                .ToListAsync(cancellationToken);
            var toolsPermission = await tools.ActivePermissionAsync(reader.UserId, cancellationToken);
            return TypedResults.Ok(new MyAccess(
                [.. restricted.Select(d => new MyAccessItem(d.Slug, d.Name, d.ByDomain ? "email domain" : "permission", d.ByDomain ? null : d.Expires))],
                new MyToolsAccess(toolsPermission is not null, toolsPermission?.Source.ToString(), toolsPermission?.ExpiresAt)));
        });

        return app;
    }
}
