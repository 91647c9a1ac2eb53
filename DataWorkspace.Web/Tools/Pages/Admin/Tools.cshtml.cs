using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tools.Pages.Admin;

/// <summary>Every active tool instance (whose, which, since when, last traffic), with Stop; and the latest stopped ones with why.</summary>
public sealed class RunningToolsModel(CatalogueDbContext catalogue, ToolInstances tools) : PageModel
{
    public sealed record Row(ToolInstance Instance, string OwnerEmail);

    public List<Row> Active { get; private set; } = [];
    public List<Row> RecentlyStopped { get; private set; } = [];
    public string? Message { get; private set; }

    public async Task OnGetAsync(string? message, CancellationToken cancellationToken)
    {
        Message = message;
        var instances = catalogue.Set<ToolInstance>().AsNoTracking();
        var users = catalogue.Users.AsNoTracking();
        var active = await instances.Where(i => i.State != ToolInstanceState.Stopped).OrderBy(i => i.CreatedAt)
            .Join(users, i => i.OwnerId, u => u.Id, (i, u) => new { i, u.Email }).ToListAsync(cancellationToken);
        var stopped = await instances.Where(i => i.State == ToolInstanceState.Stopped).OrderByDescending(i => i.StoppedAt).Take(50)
            .Join(users, i => i.OwnerId, u => u.Id, (i, u) => new { i, u.Email }).ToListAsync(cancellationToken);
        Active = [.. active.Select(r => new Row(r.i, r.Email))];
        RecentlyStopped = [.. stopped.OrderByDescending(r => r.i.StoppedAt).Select(r => new Row(r.i, r.Email))];
    }

    public async Task<IActionResult> OnPostStopAsync(Guid id, CancellationToken cancellationToken)
    {
        var actor = Actor.Of(User);
        var stopped = await tools.StopAsync(id, null, actor, ToolStop.ByAdministrator(actor.Email), cancellationToken);
        var message = stopped ? "The tool was stopped." : "That tool was not running any more.";
        return Redirect($"/admin/tools?message={Uri.EscapeDataString(message)}");
    }
}
