using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Audit.Pages.Admin;

/// <summary>The audit log, newest first, 100 to a page, with the same filters as the CSV export.</summary>
public sealed class AuditModel(CatalogueDbContext catalogue, IAuditedDatasets datasets) : PageModel
{
    public const int PageSize = 100;
    public List<AuditEvent> Events { get; private set; } = [];
    public AuditFilter Filter { get; private set; } = new(null, null, null, null, null);
    public int PageNumber { get; private set; }
    public bool HasMore { get; private set; }

    public async Task OnGetAsync(string? action, string? actor, string? dataset, DateOnly? from, DateOnly? to, int page = 1, CancellationToken cancellationToken = default)
    {
        Filter = new AuditFilter(action, actor, dataset, from, to);
        PageNumber = Math.Max(1, page);
        var events = await Filter.Apply(catalogue, datasets).Skip((PageNumber - 1) * PageSize).Take(PageSize + 1).ToListAsync(cancellationToken);
        HasMore = events.Count > PageSize;
        Events = [.. events.Take(PageSize)];
    }

    public string Query(int page) => QueryString.Create(new Dictionary<string, string?>
    {
        ["action"] = Filter.Action, ["actor"] = Filter.Actor, ["dataset"] = Filter.Dataset,
        ["from"] = Filter.From?.ToString("yyyy-MM-dd"), ["to"] = Filter.To?.ToString("yyyy-MM-dd"), ["page"] = page > 1 ? page.ToString() : null,
    }.Where(p => !string.IsNullOrEmpty(p.Value))).ToString();
}
