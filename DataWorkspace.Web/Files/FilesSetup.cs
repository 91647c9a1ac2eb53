using DataWorkspace.Web.Users;

namespace DataWorkspace.Web.Files;

public static class FilesSetup
{
    /// <summary>"Your files": the S3 client and presigner of the files API, and the end of a leaver's files credentials.</summary>
    public static WebApplicationBuilder AddFiles(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<FilesBucketClient>();
        builder.Services.AddSingleton<FilesCredentials>();
        builder.Services.AddSingleton<IDeactivationStep>(services => services.GetRequiredService<FilesCredentials>());
        return builder;
    }

    public static WebApplication MapFiles(this WebApplication app)
    {
        app.MapFilesApi();
        return app;
    }
}
