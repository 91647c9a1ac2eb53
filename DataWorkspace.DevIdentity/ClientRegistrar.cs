using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace DataWorkspace.DevIdentity;

/// <summary>Registers the configured relying parties at start-up (the store is in memory, so on every start).</summary>
public sealed class ClientRegistrar(IServiceProvider services, IOptions<DevIdentityOptions> options, ILogger<ClientRegistrar> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();

        foreach (var client in options.Value.Clients)
        {
            var descriptor = new OpenIddictApplicationDescriptor
            {
                ClientId = client.ClientId,
                ClientSecret = client.ClientSecret,
                ClientType = ClientTypes.Confidential,
                ConsentType = ConsentTypes.Implicit,
                DisplayName = string.IsNullOrEmpty(client.DisplayName) ? client.ClientId : client.DisplayName,
                Permissions =
                {
                    Permissions.Endpoints.Authorization,
                    Permissions.Endpoints.Token,
                    Permissions.Endpoints.EndSession,
                    Permissions.GrantTypes.AuthorizationCode,
                    Permissions.GrantTypes.RefreshToken,
                    Permissions.ResponseTypes.Code,
                    Permissions.Scopes.Email,
                    Permissions.Scopes.Profile,
                    Permissions.Scopes.Roles,
                },
                Requirements = { Requirements.Features.ProofKeyForCodeExchange },
            };
            foreach (var uri in client.RedirectUris) descriptor.RedirectUris.Add(new Uri(uri));
            foreach (var uri in client.PostLogoutRedirectUris) descriptor.PostLogoutRedirectUris.Add(new Uri(uri));

            var existing = await applications.FindByClientIdAsync(client.ClientId, cancellationToken);
            if (existing is null) await applications.CreateAsync(descriptor, cancellationToken);
            else await applications.UpdateAsync(existing, descriptor, cancellationToken);

            logger.LogInformation("Registered client {ClientId} with redirect URIs {RedirectUris}", client.ClientId, client.RedirectUris);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
