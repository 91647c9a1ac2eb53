using DataWorkspace.Web.Tools;

namespace DataWorkspace.Web.Storage;

public static class StorageRegistration
{
    /// <summary>The files bucket (checked, or created against an emulator, at start), tools' S3 credentials, and the local S3 gateway.</summary>
    public static WebApplicationBuilder AddStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<StorageOptions>().Bind(builder.Configuration.GetSection(StorageOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ToolCredentials>();
        builder.Services.AddSingleton<ToolStorage>();
        builder.Services.AddHostedService<FilesBucket>();
        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton<S3Gateway>();
        return builder;
    }
}
