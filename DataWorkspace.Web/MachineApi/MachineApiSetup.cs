using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.MachineApi;

public static class MachineApiSetup
{
    /// <summary>The Hawk scheme, its clients and the nonce store; the endpoints are mapped by <see cref="MachineApiEndpoints.MapMachineApi"/>.</summary>
    public static WebApplicationBuilder AddMachineApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<MachineApiOptions>().BindConfiguration(MachineApiOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<MachineApiOptions>, MachineApiOptionsValidation>();
        builder.Services.AddSingleton<NonceStore>();
        builder.Services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, HawkAuthenticationHandler>(HawkAuthenticationHandler.SchemeName, null);
        return builder;
    }
}
