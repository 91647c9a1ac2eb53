using System.IO.Compression;
using System.Text.RegularExpressions;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.Tools;
using DataWorkspace.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.Tests;

/// <summary>
/// The proxy's own pages wear the portal's GOV.UK styles from the proxy's own copy of its stylesheet: the portal's
/// header, a heading, what went wrong, what to do and the way back, with the status the caller gave.
/// </summary>
public sealed partial class ProxyPagesTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static DefaultHttpContext Request(string host, string path = "/")
    {
        var services = new ServiceCollection()
            .AddSingleton(Options.Create(new ProxyOptions { RootDomain = "dataworkspace.localhost", PublicScheme = "http", WebUrl = "http://127.0.0.1:1" }))
            .BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Host = new HostString(host, 8080);
        context.Request.Path = path;
        context.Request.Method = "GET";
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static string Body(HttpContext context)
    {
        context.Response.Body.Position = 0;
        return new StreamReader(context.Response.Body).ReadToEnd();
    }

    [GeneratedRegex("<script(?![^>]*\\ssrc=)[^>]*>")]
    private static partial Regex InlineScript();

    [Fact]
    public async Task An_error_page_has_the_portals_stylesheet_header_heading_message_and_ways_on_with_its_status()
    {
        var context = Request("dataworkspace.localhost", "/files");
        context.Response.StatusCode = StatusCodes.Status403Forbidden;

        await ProxyPages.WriteAsync(context.Response, "Not from this network", "10.9.9.9 is not on the allow list.", ("Go to the catalogue", "/datasets"));

        var page = Body(context);
        Assert.Equal(StatusCodes.Status403Forbidden, context.Response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", context.Response.ContentType);
        Assert.Contains($"<link rel=\"stylesheet\" href=\"/_dataworkspace/site.css?v={PortalStylesheet.Version}\">", page);
        Assert.Contains("<html lang=\"en\" class=\"govuk-template\">", page);
        Assert.Contains("<body class=\"govuk-template__body\">", page);
        Assert.Contains("<a href=\"#main-content\" class=\"govuk-skip-link\">Skip to main content</a>", page);
        Assert.Matches("<header class=\"govuk-template__header\">[\\s\\S]*<a href=\"/\" class=\"govuk-generic-header__homepage-link\">Data Workspace</a>", page);
        Assert.Contains("<main class=\"govuk-main-wrapper\" id=\"main-content\">", page);
        Assert.Contains("<h1 class=\"govuk-heading-l\">Not from this network</h1>", page);
        Assert.Contains("<p class=\"govuk-body\" data-testid=\"proxy-message\">10.9.9.9 is not on the allow list.</p>", page);
        Assert.Contains("<a class=\"govuk-link\" href=\"/datasets\" target=\"_top\">Go to the catalogue</a>", page);
        Assert.Contains("<a class=\"govuk-link\" href=\"/\" target=\"_top\">Go to the Data Workspace portal</a>", page);
        Assert.Contains("<title>Not from this network - Data Workspace</title>", page);
        Assert.DoesNotMatch("<script", page);
    }

    [Fact]
    public async Task On_a_tools_host_the_header_and_the_way_back_lead_to_the_portals_address()
    {
        var context = Request("sample-1a2b3c4d.dataworkspace.localhost");
        context.Response.StatusCode = StatusCodes.Status404NotFound;

        await ProxyPages.WriteAsync(context.Response, "Page not found", "This address is the platform's, not the tool's.");

        var page = Body(context);
        Assert.Equal(StatusCodes.Status404NotFound, context.Response.StatusCode);
        Assert.Contains("<a href=\"http://dataworkspace.localhost:8080/\" class=\"govuk-generic-header__homepage-link\">", page);
        Assert.Contains("<a class=\"govuk-link\" href=\"http://dataworkspace.localhost:8080/\" target=\"_top\">Go to the Data Workspace portal</a>", page);
        // The stylesheet is the tool host's own path, which the proxy answers there too: no other origin is needed.
        Assert.Contains($"href=\"/_dataworkspace/site.css?v={PortalStylesheet.Version}\"", page);
    }

    [Fact]
    public async Task In_a_wrapped_tools_frame_a_page_leaves_the_header_to_the_portal_and_its_links_to_the_portal_open_in_the_whole_window()
    {
        var context = Request("market-access.dataworkspace.localhost");
        context.Request.Headers["Sec-Fetch-Dest"] = "iframe";
        context.Response.StatusCode = StatusCodes.Status403Forbidden;

        await ProxyPages.WriteAsync(context.Response, "You cannot open this visualisation", "It is open to trade.example only.",
            ("Go to the catalogue", "http://dataworkspace.localhost:8080/datasets"));

        var page = Body(context);
        Assert.DoesNotContain("govuk-generic-header", page);
        Assert.DoesNotContain("govuk-footer", page);
        Assert.Contains("<h1 class=\"govuk-heading-l\">You cannot open this visualisation</h1>", page);
        Assert.Contains("<a class=\"govuk-link\" href=\"http://dataworkspace.localhost:8080/datasets\" target=\"_top\">Go to the catalogue</a>", page);
        Assert.Contains($"href=\"/_dataworkspace/site.css?v={PortalStylesheet.Version}\"", page);
    }

    [Fact]
    public async Task A_try_again_link_made_from_the_asked_path_stays_on_the_site()
    {
        foreach (var asked in new[] { "//evil.example/x", "/\\evil.example/x", "\\/evil.example/x" })
        {
            var context = Request("dataworkspace.localhost");
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;

            await ProxyPages.WriteAsync(context.Response, "The portal is restarting", "Try again in a few seconds.", ("Try again", asked));

            var page = Body(context);
            Assert.Contains("<a class=\"govuk-link\" href=\"/evil.example/x\"", page);
            Assert.DoesNotContain("evil.example/x\"", page.Replace("href=\"/evil.example/x\"", "", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Text_in_a_page_is_encoded()
    {
        var context = Request("dataworkspace.localhost");

        await ProxyPages.WriteAsync(context.Response, "Refused <b>", "A WebSocket from <script>alert(1)</script>.", ("Try \"again\"", "/x?a=1&b=<2>"));

        var page = Body(context);
        Assert.DoesNotContain("<script>", page);
        Assert.Contains("A WebSocket from &lt;script&gt;alert(1)&lt;/script&gt;.", page);
        Assert.Contains("href=\"/x?a=1&amp;b=&lt;2&gt;\"", page);
        Assert.Contains(">Try &quot;again&quot;</a>", page);
    }

    [Fact]
    public void The_progress_page_is_a_GOVUK_page_whose_only_script_is_the_proxys_file()
    {
        var state = new ToolHostState("sample-1a2b3c4d", "Sample app", ToolInstanceState.Spawning, Guid.NewGuid(), null, ToolStage.Starting,
            null, null, null, DateTimeOffset.UtcNow, []);

        var page = ProgressPage.Html(state, "http://dataworkspace.localhost:8080/");

        Assert.Contains($"<link rel=\"stylesheet\" href=\"/_dataworkspace/site.css?v={PortalStylesheet.Version}\">", page);
        Assert.Contains("<header class=\"govuk-template__header\">", page);
        Assert.Contains("<h1 class=\"govuk-heading-l\">Starting your Sample app</h1>", page);
        Assert.Contains("<a class=\"govuk-link\" href=\"http://dataworkspace.localhost:8080/tools\" target=\"_top\">Go to your tools</a>", page);
        Assert.Contains("<script src=\"/_dataworkspace/progress.js\" defer></script>", page);
        Assert.DoesNotMatch(InlineScript(), page);
        Assert.DoesNotMatch("\\son[a-z]+=", page);
    }

    private static async Task<HttpContext> StylesheetAsync(string path, string? acceptEncoding = null, string method = "GET")
    {
        var context = Request("sample-1a2b3c4d.dataworkspace.localhost");
        var url = path.Split('?');
        context.Request.Path = url[0];
        if (url.Length > 1) context.Request.QueryString = new QueryString("?" + url[1]);
        context.Request.Method = method;
        if (acceptEncoding is not null) context.Request.Headers.AcceptEncoding = acceptEncoding;
        var app = new ApplicationBuilder(context.RequestServices);
        app.UsePortalStylesheet();
        app.Run(next => { next.Response.StatusCode = StatusCodes.Status418ImATeapot; return Task.CompletedTask; });
        await app.Build()(context);
        context.Response.Body.Position = 0;
        return context;
    }

    [Fact]
    public async Task The_proxy_serves_the_portals_compiled_stylesheet_on_any_host_to_keep_for_as_long_as_its_version()
    {
        var context = await StylesheetAsync(PortalStylesheet.Href);

        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        Assert.Equal("text/css; charset=utf-8", context.Response.ContentType);
        Assert.Equal("public, max-age=31536000, immutable", context.Response.Headers.CacheControl.ToString());
        var css = await new StreamReader(context.Response.Body).ReadToEndAsync(Cancel);
        // GOV.UK Frontend's header and the portal's own product name, as the web app's build compiled them.
        Assert.Contains(".govuk-generic-header{", css);
        Assert.Contains(".dw-header{", css);
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(TestDirectories.RepositoryRoot(), "DataWorkspace.Web", "wwwroot", "dist", "site.css"), Cancel), css);
    }

    [Fact]
    public async Task The_stylesheet_goes_compressed_to_browsers_that_take_it_and_an_old_version_is_checked_again()
    {
        var context = await StylesheetAsync(PortalStylesheet.Path + "?v=0123456789abcdef", "gzip, deflate, br");

        Assert.Equal("gzip", context.Response.Headers.ContentEncoding.ToString());
        Assert.Equal("no-cache", context.Response.Headers.CacheControl.ToString());
        await using var gzip = new GZipStream(context.Response.Body, CompressionMode.Decompress);
        Assert.Contains(".govuk-generic-header{", await new StreamReader(gzip).ReadToEndAsync(Cancel));
    }

    [Theory]
    [InlineData("/_dataworkspace/site.css.map", "GET")]
    [InlineData("/dist/site.css", "GET")]
    [InlineData("/_dataworkspace/site.css", "POST")]
    public async Task Other_paths_and_methods_go_on_as_before(string path, string method)
    {
        var context = await StylesheetAsync(path, method: method);

        Assert.Equal(StatusCodes.Status418ImATeapot, context.Response.StatusCode);
    }
}
