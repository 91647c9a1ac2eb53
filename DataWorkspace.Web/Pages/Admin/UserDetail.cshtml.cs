using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.ToolsAccess;
using DataWorkspace.Web.Users;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Pages.Admin;

public sealed record UserPermissionRow(Catalogue.DatasetPermission Permission, string DatasetName, string DatasetSlug);

/// <summary>
/// One user: their account (deactivate or reactivate), tools access (grant or remove), the restricted datasets they may
/// read (remove any), their requests.
/// </summary>
public sealed class UserDetailModel(CatalogueDbContext catalogue, ToolsAccessService tools, AccessRequestService requests, UserAccounts accounts, TimeProvider time) : PageModel
{
    public User Person { get; private set; } = null!;
    public ToolsPermission? Tools { get; private set; }
    public List<UserPermissionRow> Permissions { get; private set; } = [];
    public List<AccessRequest> Requests { get; private set; } = [];
    public string? Message { get; private set; }

    public async Task<IActionResult> OnGetAsync(string id, string? message, CancellationToken cancellationToken)
    {
        Message = message;
        return await LoadAsync(id, cancellationToken) ? Page() : NotFound();
    }

    public async Task<IActionResult> OnPostToolsAsync(string id, bool grant, CancellationToken cancellationToken)
    {
        if (!await LoadAsync(id, cancellationToken)) return NotFound();
        await tools.SetByAdminAsync(Person.Id, Person.Email, grant, User, cancellationToken);
        return Redirect($"/admin/users/{Uri.EscapeDataString(id)}?message={(grant ? "Tools+access+given." : "Tools+access+removed.")}");
    }

    public async Task<IActionResult> OnPostDeactivateAsync(string id, CancellationToken cancellationToken)
    {
        if (!await LoadAsync(id, cancellationToken)) return NotFound();
        var outcome = await accounts.DeactivateAsync(Person.Id, User, cancellationToken);
        return Redirect($"/admin/users/{Uri.EscapeDataString(id)}?message={Uri.EscapeDataString(outcome.Message)}");
    }

    public async Task<IActionResult> OnPostReactivateAsync(string id, CancellationToken cancellationToken)
    {
        if (!await LoadAsync(id, cancellationToken)) return NotFound();
        var outcome = await accounts.ReactivateAsync(Person.Id, User, cancellationToken);
        return Redirect($"/admin/users/{Uri.EscapeDataString(id)}?message={Uri.EscapeDataString(outcome.Message)}");
    }

    public async Task<IActionResult> OnPostRevokeAsync(string id, Guid permission, CancellationToken cancellationToken)
    {
        if (!await LoadAsync(id, cancellationToken)) return NotFound();
        var outcome = await requests.RevokeAsync(permission, User, cancellationToken);
        return Redirect($"/admin/users/{Uri.EscapeDataString(id)}?message={Uri.EscapeDataString(outcome.Message)}");
    }

    private async Task<bool> LoadAsync(string id, CancellationToken cancellationToken)
    {
        var person = await catalogue.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == id, cancellationToken);
        if (person is null) return false;
        Person = person;
        Tools = await tools.ActivePermissionAsync(id, cancellationToken);
        Permissions = await catalogue.Permissions.AsNoTracking().ActiveAt(time.GetUtcNow()).Where(p => p.UserId == id)
            .Join(catalogue.Datasets, p => p.DatasetId, d => d.Id, (p, d) => new UserPermissionRow(p, d.Name, d.Slug)).ToListAsync(cancellationToken);
        Permissions.Sort((a, b) => string.Compare(a.DatasetName, b.DatasetName, StringComparison.OrdinalIgnoreCase));
        Requests = await catalogue.AccessRequests.AsNoTracking().Where(r => r.UserId == id).OrderByDescending(r => r.CreatedAt).Take(50).ToListAsync(cancellationToken);
        return true;
    }
}
