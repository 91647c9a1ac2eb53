namespace DataWorkspace.Web.Portal;

/// <summary>Absolute links to the portal for emails, which are written outside any request (<c>Portal:PublicUrl</c>).</summary>
public sealed class PortalLinks(IConfiguration configuration)
{
    private readonly string root = (configuration["Portal:PublicUrl"] ?? "http://dataworkspace.localhost:8000").TrimEnd('/');

    public string Portal(string path) => root + path;

    /// <summary>The portal's own address: tools live on hosts under its host name, on its scheme and port.</summary>
    public Uri Root => new(root + "/");
}

public static class PortalLinksRegistration
{
    public static IServiceCollection AddPortalLinks(this IServiceCollection services) => services.AddSingleton<PortalLinks>();
}
