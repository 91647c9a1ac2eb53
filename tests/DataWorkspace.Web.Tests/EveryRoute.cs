using System.Reflection;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.Mvc.RazorPages.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// One way to call one route: a method, the address with its route values filled in, the page handler (pages), and
/// the names of the values it reads from the query string, the form, and the fields of its JSON body.
/// </summary>
public sealed record RouteCall(
    RouteEndpoint Endpoint, string Method, string Path, string? Handler, IReadOnlyList<string> RouteNames,
    IReadOnlyList<string> QueryNames, IReadOnlyList<string> FormNames, Type? JsonBody)
{
    public bool IsPage => Endpoint.Metadata.GetMetadata<ActionDescriptor>() is not null;
    public bool NotForBrowsers => Endpoint.Metadata.GetMetadata<NotForBrowsersAttribute>() is not null;
    public bool ChangesState => !(HttpMethods.IsGet(Method) || HttpMethods.IsHead(Method));

    /// <summary>The path with the handler and any extra query string values.</summary>
    public string Url(params (string Name, string Value)[] query)
    {
        var all = Handler is null ? query : [("handler", Handler), .. query];
        return all.Length == 0 ? Path : Path + QueryString.Create(all.Select(q => new KeyValuePair<string, string?>(q.Name, q.Value)));
    }

    public override string ToString() => $"{Method} {Url()}";
}

/// <summary>
/// Every route the web app serves, read from its own <see cref="EndpointDataSource"/> (minimal APIs and Razor Pages),
/// so a route added later is in every test that walks them without anyone listing it.
/// </summary>
public static class EveryRoute
{
    /// <summary>Query names every route is tried with: the catalogue's and the admin pages', which pages may read without binding them.</summary>
    public static readonly string[] CommonQueryNames = ["q", "page", "sort", "type", "topic", "publisher", "access", "bookmarked", "message", "status", "format"];

    /// <param name="routeValue">A plausible value for a route parameter (its name and constraints), so the route matches and its handler runs.</param>
    public static List<RouteCall> Calls(IServiceProvider services, Func<RoutePatternParameterPart, string> routeValue)
    {
        var isService = services.GetRequiredService<IServiceProviderIsService>();
        var calls = new List<RouteCall>();
        foreach (var endpoint in services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var pattern = endpoint.RoutePattern;
            var path = Fill(pattern, routeValue);
            var routeNames = pattern.Parameters.Select(p => p.Name).ToList();
            if (endpoint.Metadata.GetMetadata<CompiledPageActionDescriptor>() is { } page)
            {
                var properties = page.BoundProperties.SelectMany(p => FieldNames(p.BindingInfo?.BinderModelName ?? p.Name, p.ParameterType)).ToList();
                var gets = page.HandlerMethods.Where(h => h.HttpMethod == "Get").ToList();
                calls.Add(new(endpoint, "GET", path, null, routeNames, [.. HandlerNames(gets.Where(h => h.Name is null), routeNames), .. properties], [], null));
                foreach (var named in gets.Where(h => h.Name is not null))
                    calls.Add(new(endpoint, "GET", path, named.Name, routeNames, [.. HandlerNames([named], routeNames), .. properties], [], null));
                // A page takes POST whether or not it has a handler for it (it renders itself again).
                var posts = page.HandlerMethods.Where(h => h.HttpMethod == "Post").ToList();
                if (!posts.Any(h => h.Name is null)) calls.Add(new(endpoint, "POST", path, null, routeNames, [], properties, null));
                foreach (var post in posts)
                    calls.Add(new(endpoint, "POST", path, post.Name, routeNames, [], [.. HandlerNames([post], routeNames), .. properties], null));
                continue;
            }

            var parameters = endpoint.Metadata.GetOrderedMetadata<IParameterBindingMetadata>();
            var query = parameters
                .Where(p => !routeNames.Contains(p.Name, StringComparer.OrdinalIgnoreCase) && IsSimple(p.ParameterInfo.ParameterType) && !IsInjected(p.ParameterInfo, isService))
                .Select(p => p.Name).ToList();
            var body = endpoint.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
            // Operator endpoints (health, metrics) name no method: they answer any.
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET", "POST"];
            foreach (var method in methods)
                calls.Add(new(endpoint, method, path, null, routeNames, query, [], HttpMethods.IsGet(method) ? null : body));
        }

        return calls;
    }

    /// <summary>
    /// Route values that name real things, so each route matches and its handler gets as far as it can: a published
    /// dataset's slug, table and id, the admin's own user id, a template's basename and its host for the admin.
    /// </summary>
    public static Func<RoutePatternParameterPart, string> PlausibleValues(PlatformIdentity admin, Dataset dataset) => parameter => parameter.Name switch
    {
        "slug" => dataset.Slug,
        "table" => dataset.Tables[0].Table,
        "id" when parameter.ParameterPolicies.Any(p => p.Content == "guid") => dataset.Id.ToString(),
        "id" => admin.UserId,
        "basename" => "jupyterlab",
        "host" => $"jupyterlab-{admin.Hash}",
        "code" => "404",
        "documentName" => "catalogue",
        _ => "value",
    };

    /// <summary>The route's address with a value in each parameter (optional ones too).</summary>
    public static string Fill(RoutePattern pattern, Func<RoutePatternParameterPart, string> routeValue) =>
        "/" + string.Join('/', pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternSeparatorPart separator => separator.Content,
            RoutePatternParameterPart parameter => Uri.EscapeDataString(routeValue(parameter)),
            _ => throw new InvalidOperationException($"Unknown route part {part}"),
        }))));

    private static IEnumerable<string> HandlerNames(IEnumerable<HandlerMethodDescriptor> handlers, List<string> routeNames) =>
        handlers.SelectMany(h => h.Parameters)
            .Where(p => p.ParameterType != typeof(CancellationToken) && !routeNames.Contains(p.Name, StringComparer.OrdinalIgnoreCase))
            .Where(p => p.BindingInfo?.BindingSource != BindingSource.Services)
            .SelectMany(p => FieldNames(p.BindingInfo?.BinderModelName ?? p.Name, p.ParameterType));

    /// <summary>A simple value by its name; a form model by each of its properties (<c>Form.Name</c>).</summary>
    private static IEnumerable<string> FieldNames(string name, Type type)
    {
        if (IsSimple(type) || type == typeof(IFormFile)) return [name];
        return type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && IsSimple(p.PropertyType)).Select(p => $"{name}.{p.Name}");
    }

    private static bool IsSimple(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsArray) type = type.GetElementType()!;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(Guid) || type == typeof(decimal)
            || type == typeof(DateOnly) || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(TimeSpan);
    }

    private static bool IsInjected(ParameterInfo parameter, IServiceProviderIsService isService) =>
        parameter.GetCustomAttributes().Any(a => a is Microsoft.AspNetCore.Mvc.FromServicesAttribute or FromKeyedServicesAttribute)
        || isService.IsService(parameter.ParameterType);

    /// <summary>The names of a JSON body's string fields as they are sent (camelCase).</summary>
    public static IEnumerable<string> StringFields(Type body) =>
        body.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.PropertyType == typeof(string))
            .Select(p => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(p.Name));
}
