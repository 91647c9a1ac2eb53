namespace DataWorkspace.Web.Storage;

public static class StorageSetup
{
    /// <summary>The files bucket (checked, or created against an emulator, at start) and the local S3 gateway.</summary>
    public static WebApplicationBuilder AddStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<StorageOptions>().Bind(builder.Configuration.GetSection(StorageOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHostedService<FilesBucket>();
        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton<S3Gateway>();
        return builder;
    }
}
