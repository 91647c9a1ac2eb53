using System.ComponentModel.DataAnnotations;
using DataWorkspace.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public sealed class IdentitySigningOptions
{
    public const string Section = "Identity";

    /// <summary>Base64 of at least 32 random bytes, shared by the proxy and the web app (an AppHost secret parameter).</summary>
    [Required(ErrorMessage = "Identity:SigningKey is required: the base64 key the proxy signs identities with.")]
    [MinLength(44, ErrorMessage = "Identity:SigningKey must be base64 of at least 32 bytes (44 characters or more).")]
    public string SigningKey { get; set; } = "";
}

public static class IdentityTokenExtensions
{
    /// <summary>Registers <see cref="IdentityToken"/> with the key from the Identity section, checked at start-up.</summary>
    public static TBuilder AddIdentityTokens<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<IdentitySigningOptions>()
            .Bind(builder.Configuration.GetSection(IdentitySigningOptions.Section))
            .ValidateDataAnnotations()
            .Validate(options => IsValidKey(options.SigningKey), "Identity:SigningKey must be base64 of at least 32 bytes.")
            .ValidateOnStart();
        builder.Services.AddSingleton(services =>
            new IdentitySigningKey(services.GetRequiredService<IOptions<IdentitySigningOptions>>().Value.SigningKey));
        // The wall clock, always: a token's freshness is between two processes, whatever clock the app's business logic uses.
        builder.Services.AddSingleton(services => new IdentityToken(services.GetRequiredService<IdentitySigningKey>(), TimeProvider.System));
        return builder;
    }

    private static bool IsValidKey(string key)
    {
        try
        {
            _ = new IdentitySigningKey(key);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
