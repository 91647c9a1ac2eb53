using DataWorkspace.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace DataWorkspace.Web.Tests;

/// <summary>The web app with machine API clients configured: one per email domain the access tests need.</summary>
public sealed class MachineApiFixture : IAsyncDisposable
{
    public MachineApiFixture(WebFixture web)
    {
        Web = web;
        Partner = new HawkSigner("partner-robot", HawkSigner.NewKey());
        Trade = new HawkSigner("trade-robot", HawkSigner.NewKey());
        var settings = new Dictionary<string, string?>();
        foreach (var (signer, email) in new[] { (Partner, "robot@partner.example"), (Trade, "robot@trade.example") })
        {
            settings[$"MachineApi:Clients:{signer.Id}:Key"] = signer.Key;
            settings[$"MachineApi:Clients:{signer.Id}:Email"] = email;
        }

        Factory = web.Factory.WithWebHostBuilder(host => host.ConfigureAppConfiguration(config => config.AddInMemoryCollection(settings)));
    }

    /// <summary>A client whose service identity is at partner.example.</summary>
    public HawkSigner Partner { get; }

    /// <summary>A client whose service identity is at trade.example.</summary>
    public HawkSigner Trade { get; }

    public WebApplicationFactory<Program> Factory { get; }
    public WebFixture Web { get; }

    public async Task<HttpResponseMessage> GetAsync(HawkSigner signer, string path, long? timestamp = null, string? nonce = null)
    {
        using var client = Factory.CreateClient();
        using var request = signer.Get(new Uri(client.BaseAddress!, path), timestamp, nonce);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
    {
        using var client = Factory.CreateClient();
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync() => Factory.DisposeAsync();
}
