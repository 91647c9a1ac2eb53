namespace DataWorkspace.Proxy.Tests;

/// <summary>The portal's content security policy: its own sources, and the files bucket's origin only when there is one.</summary>
public sealed class SecurityHeadersTests
{
    private static Dictionary<string, string> Directives(string policy) => policy.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
        .ToDictionary(d => d.Split(' ')[0], d => d[(d.IndexOf(' ') + 1)..], StringComparer.Ordinal);

    [Fact]
    public void Without_a_files_origin_the_portal_connects_and_loads_images_only_from_itself()
    {
        var policy = Directives(SecurityHeaders.PortalContentSecurityPolicy(new ProxyOptions { RootDomain = "dataworkspace.localhost", PublicScheme = "http" }));

        Assert.Equal("'self'", policy["connect-src"]);
        Assert.Equal("'self' data:", policy["img-src"]);
        Assert.Equal("'self'", policy["script-src"]);
        Assert.Equal("'none'", policy["frame-ancestors"]);
    }

    [Fact]
    public void A_files_origin_is_added_to_connect_and_image_sources_and_nowhere_else()
    {
        const string files = "https://files.s3.eu-west-2.amazonaws.com";
        var options = new ProxyOptions { RootDomain = "dataworkspace.example.com", FilesOrigin = files };
        var policy = Directives(SecurityHeaders.PortalContentSecurityPolicy(options));

        Assert.Equal($"'self' {files}", policy["connect-src"]);
        Assert.Equal($"'self' data: {files}", policy["img-src"]);
        Assert.DoesNotContain(policy, d => d.Key is not ("connect-src" or "img-src") && d.Value.Contains(files, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_files_origin_is_allowed_once_with_the_single_setting_first()
    {
        var options = new ProxyOptions
        {
            RootDomain = "dataworkspace.localhost", FilesOrigin = "http://127.0.0.1:4566",
            FilesOrigins = ["http://localhost:4566", "http://127.0.0.1:4566"],
        };
        var policy = Directives(SecurityHeaders.PortalContentSecurityPolicy(options));

        Assert.Equal("'self' http://127.0.0.1:4566 http://localhost:4566", policy["connect-src"]);
        Assert.Equal("'self' data: http://127.0.0.1:4566 http://localhost:4566", policy["img-src"]);
    }

    [Fact]
    public void The_list_alone_works_without_the_single_setting()
    {
        var options = new ProxyOptions { RootDomain = "dataworkspace.example.com", FilesOrigins = ["https://files.s3.eu-west-2.amazonaws.com", "https://files.s3.dualstack.eu-west-2.amazonaws.com"] };

        Assert.Equal("'self' https://files.s3.eu-west-2.amazonaws.com https://files.s3.dualstack.eu-west-2.amazonaws.com",
            Directives(SecurityHeaders.PortalContentSecurityPolicy(options))["connect-src"]);
    }

    [Theory]
    [InlineData("http://localhost:4566", true)]
    [InlineData("https://files.s3.amazonaws.com/path", false)]
    [InlineData("https://a.example; script-src *", false)]
    public void Each_of_the_files_origins_must_be_an_origin(string origin, bool valid)
    {
        var options = new ProxyOptions { RootDomain = "dataworkspace.localhost", WebUrl = "http://127.0.0.1:5000", FilesOrigins = ["http://127.0.0.1:4566", origin] };
        var problems = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();
        Assert.Equal(valid, !problems.Any(p => p.ErrorMessage!.Contains("Proxy:FilesOrigins", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("http://127.0.0.1:4566", true)]
    [InlineData("https://files.s3.eu-west-2.amazonaws.com", true)]
    [InlineData("", true)]
    [InlineData("https://files.s3.amazonaws.com/path", false)]
    [InlineData("files.s3.amazonaws.com", false)]
    [InlineData("https://a.example; script-src *", false)]
    public void The_files_origin_must_be_an_origin(string origin, bool valid)
    {
        var options = new ProxyOptions { RootDomain = "dataworkspace.localhost", WebUrl = "http://127.0.0.1:5000", FilesOrigin = origin };
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        var ok = System.ComponentModel.DataAnnotations.Validator.TryValidateProperty(origin,
            new System.ComponentModel.DataAnnotations.ValidationContext(options) { MemberName = nameof(ProxyOptions.FilesOrigin) }, results);
        Assert.Equal(valid, ok);
    }
}
