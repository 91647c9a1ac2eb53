using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.MachineApi;

public static class MachineApiSetup
{
    /// <summary>The Hawk scheme, its clients, the nonce store and the API's OpenAPI document; the endpoints are mapped by <see cref="MapMachineApi"/>.</summary>
    public static WebApplicationBuilder AddMachineApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<MachineApiOptions>().BindConfiguration(MachineApiOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<MachineApiOptions>, MachineApiOptionsValidation>();
        builder.Services.AddSingleton<NonceStore>();
        builder.Services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, HawkAuthenticationHandler>(HawkAuthenticationHandler.SchemeName, null);
        builder.Services.AddMachineApiDocument();
        return builder;
    }

    public static WebApplication MapMachineApi(this WebApplication app)
    {
        app.MapMachineApiEndpoints();
        app.MapMachineApiDocument();
        return app;
    }
}
