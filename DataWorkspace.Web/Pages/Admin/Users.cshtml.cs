using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.ToolsAccess;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Pages.Admin;

public sealed record UserRow(User User, ToolsPermission? Tools, int Datasets);

/// <summary>Everyone who has signed in, with their tools access and how many restricted datasets they were given.</summary>
public sealed class UsersModel(CatalogueDbContext catalogue, TimeProvider time) : PageModel
{
    public List<UserRow> Users { get; private set; } = [];
    public string? Query { get; private set; }

    public async Task OnGetAsync(string? q, CancellationToken cancellationToken)
    {
        Query = q;
        var now = time.GetUtcNow();
        var tools = catalogue.ToolsPermissions.ActiveAt(now);
        var datasets = catalogue.Permissions.ActiveAt(now);
        var users = catalogue.Users.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(q)) users = users.Where(u => u.Email.ToLower().Contains(q.Trim().ToLower()) || u.Name.ToLower().Contains(q.Trim().ToLower()));
        Users = await users.OrderBy(u => u.Email).Take(500)
            .Select(u => new UserRow(u,
                tools.FirstOrDefault(p => p.UserId == u.Id),
                datasets.Count(p => p.UserId == u.Id)))
            .ToListAsync(cancellationToken);
    }
}
