using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.ApplicationModels;

namespace DataWorkspace.Web.Identity;

/// <summary>Every page in a folder named Admin, whichever feature holds it, is for administrators only.</summary>
public sealed class AdminPages : IPageApplicationModelConvention
{
    public void Apply(PageApplicationModel model)
    {
        if (model.ViewEnginePath.Contains("/Admin/", StringComparison.Ordinal)) model.EndpointMetadata.Add(new AuthorizeAttribute(AdminOptions.Policy));
    }
}
