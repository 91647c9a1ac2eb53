using System.Security.Claims;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// A clock a test moves forward, so access can expire and training lapse without waiting. It keeps following real time
/// (which FakeTimeProvider, frozen until advanced, does not): the app's background jobs, such as the role sync, run on
/// it alongside other test classes' apps on the same database, and a frozen clock would have them grant again access
/// that has expired by the database's clock.
/// </summary>
public sealed class MovableClock : TimeProvider
{
    private TimeSpan offset;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;

    public void Advance(TimeSpan by) => offset += by;
}

/// <summary>The web app with a movable clock, and the app's own services for driving the access journeys.</summary>
public sealed class PlatformScope : IAsyncDisposable
{
    public PlatformScope(WebFixture web)
    {
        Web = web;
        Factory = web.Factory.WithWebHostBuilder(host => host.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Clock)));
    }

    public WebFixture Web { get; }
    public MovableClock Clock { get; } = new();
    public WebApplicationFactory<Program> Factory { get; }

    /// <summary>Runs <paramref name="action"/> with a fresh DI scope of the app, as one request would have.</summary>
    public async Task<T> WithAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    public Task<T> WithAsync<TService, T>(Func<TService, Task<T>> action) where TService : notnull =>
        WithAsync(services => action(services.GetRequiredService<TService>()));

    /// <summary>GET through the app's real pipeline as <paramref name="user"/> (the identity token is signed with the real clock).</summary>
    public async Task<string> PageAsync(string path, PlatformIdentity user)
    {
        using var response = await WebFixture.GetAsync(Factory, path, Web.Tokens().Issue(user));
        return await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
    }

    public static ClaimsPrincipal Principal(PlatformIdentity user) =>
        new(new ClaimsIdentity(PlatformClaims.From(user), "test", PlatformClaims.Name, PlatformClaims.Role));

    /// <summary>Records the user as the app does on their first request (approvers find people by email among those).</summary>
    public async Task SignInAsync(params PlatformIdentity[] users)
    {
        foreach (var user in users)
            await Sql.ScalarAsync<object>(Web.CatalogueConnectionString,
                "INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now()) ON CONFLICT (id) DO NOTHING",
                user.UserId, user.Email, user.Name);
    }

    public ValueTask DisposeAsync() => Factory.DisposeAsync();
}
