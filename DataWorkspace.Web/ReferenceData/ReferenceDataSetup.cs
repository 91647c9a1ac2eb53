namespace DataWorkspace.Web.ReferenceData;

public static class ReferenceDataSetup
{
    /// <summary>Reference tables edited by admins and mirrored into the datasets database.</summary>
    public static WebApplicationBuilder AddReferenceData(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<ReferenceDataService>();
        builder.Services.AddSingleton<ReferenceMirror>();
        return builder;
    }
}
