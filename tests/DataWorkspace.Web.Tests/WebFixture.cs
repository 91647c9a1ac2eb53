using System.Security.Cryptography;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.Mvc.Testing;

[assembly: AssemblyFixture(typeof(DataWorkspace.Web.Tests.WebFixture))]

namespace DataWorkspace.Web.Tests;

/// <summary>The web app on a real PostgreSQL cluster, migrated by the real migration step.</summary>
public sealed class WebFixture : IAsyncLifetime
{
    public PostgresCluster Postgres { get; } = new();
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    public IdentitySigningKey Key { get; } = new(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
    public string CatalogueConnectionString { get; private set; } = "";
    public string DatasetsConnectionString { get; private set; } = "";

    public IdentityToken Tokens(TimeProvider? time = null) => new(Key, time ?? TimeProvider.System);

    public async ValueTask InitializeAsync()
    {
        await Postgres.InitializeAsync();
        CatalogueConnectionString = Postgres.ConnectionString("catalogue");
        // The app reads its connection strings while it is being built, so they go in as environment variables.
        Environment.SetEnvironmentVariable("ConnectionStrings__catalogue", CatalogueConnectionString);
        DatasetsConnectionString = Postgres.ConnectionString("datasets");
        Environment.SetEnvironmentVariable("ConnectionStrings__datasets", DatasetsConnectionString);
        Environment.SetEnvironmentVariable("Identity__SigningKey", Convert.ToBase64String(Key.Bytes));

        var exitCode = await DatabaseMigrator.RunAsync([DatabaseMigrator.Command]);
        if (exitCode != 0) throw new InvalidOperationException($"The migration step failed with exit code {exitCode}");

        Factory = new WebApplicationFactory<Program>();
    }

    public Task<T?> ScalarAsync<T>(string sql, params object[] parameters) => Sql.ScalarAsync<T>(CatalogueConnectionString, sql, parameters);

    /// <summary>Sends JSON (or nothing) as <paramref name="user"/> to <paramref name="app"/>; the status and the JSON answered, if any.</summary>
    public async Task<(System.Net.HttpStatusCode Status, System.Text.Json.JsonElement Body)> SendAsync(WebApplicationFactory<Program> app, HttpMethod method, string path, PlatformIdentity user, object? body = null)
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, Tokens().Issue(user));
        if (body is not null) request.Content = System.Net.Http.Json.JsonContent.Create(body);
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, text.Length == 0 ? default : System.Text.Json.JsonDocument.Parse(text).RootElement.Clone());
    }

    public Task<HttpResponseMessage> GetAsync(string path, PlatformIdentity user) => GetAsync(path, Tokens().Issue(user));

    /// <summary>GET <paramref name="path"/> with <paramref name="signedIdentity"/> as the proxy's identity header.</summary>
    public Task<HttpResponseMessage> GetAsync(string path, string signedIdentity) => GetAsync(Factory, path, signedIdentity);

    /// <summary>The same, on <paramref name="factory"/> (the app with test-specific services, e.g. a moved clock).</summary>
    public static async Task<HttpResponseMessage> GetAsync(WebApplicationFactory<Program> factory, string path, string signedIdentity)
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, signedIdentity);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Factory is not null) await Factory.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}
