namespace DataWorkspace.Web.Documentation;

/// <summary>
/// OpenAPI documents, served at <see cref="Route"/>: here the catalogue API's, which scripts call with a user's session;
/// an API whose callers and authentication differ adds its own (the machine API's, in MachineApi).
/// </summary>
public static class ApiDocuments
{
    public const string Catalogue = "catalogue";
    public const string Route = "/api/openapi/{documentName}.json";

    public static IServiceCollection AddApiDocuments(this IServiceCollection services)
    {
        services.AddOpenApi(Catalogue, options =>
        {
            options.ShouldInclude = description => description.RelativePath?.StartsWith("api/v1/", StringComparison.Ordinal) == true;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Data Workspace catalogue API";
                document.Info.Description = "For signed-in users and their scripts: requests go through the Data Workspace proxy with the user's session.";
                return Task.CompletedTask;
            });
        });
        return services;
    }

    public static IEndpointRouteBuilder MapApiDocuments(this IEndpointRouteBuilder app)
    {
        // Under the fallback policy: signed-in users only.
        app.MapOpenApi(Route);
        return app;
    }
}
