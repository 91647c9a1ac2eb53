using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Tools;
using DataWorkspace.Web.ToolsAccess;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Tools.Pages.Tools;

public sealed class IndexModel(ToolInstances tools, ToolList list, ToolsAccessService access) : PageModel
{
    public IReadOnlyList<ToolView> Tools { get; private set; } = [];
    public bool HasToolsAccess { get; private set; }
    public string? Message { get; private set; }
    public string? Error { get; private set; }

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    public async Task<IActionResult> OnPostStartAsync(string basename, string? size, CancellationToken cancellationToken)
    {
        try
        {
            var instance = await tools.StartAsync(ToolsApi.Identity(User), basename, size, cancellationToken);
            Message = $"{instance.TemplateName} is starting ({instance.Size}). Open it: it will be ready in a moment.";
        }
        catch (ToolRefusedException refused)
        {
            Error = refused.Message;
            Response.StatusCode = ToolRefusalResponses.StatusOf(refused.Refusal);
        }

        await LoadAsync(cancellationToken);
        return Page();
    }

    public async Task<IActionResult> OnPostStopAsync(Guid instance, CancellationToken cancellationToken)
    {
        if (await tools.StopAsync(instance, User.Id(), Actor.Of(User), ToolStop.ByUser, cancellationToken)) Message = "The tool was stopped.";
        else Error = "That tool is not running.";
        await LoadAsync(cancellationToken);
        return Page();
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        Tools = await list.ListAsync(User.Id(), cancellationToken);
        HasToolsAccess = await access.ActivePermissionAsync(User.Id(), cancellationToken) is not null;
    }
}
