using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.AccessRequests.Pages.Requests;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.AccessRequests.Pages.Admin;

/// <summary>Every access request, newest first, filtered by status.</summary>
public sealed class RequestsModel(CatalogueDbContext catalogue) : PageModel
{
    public List<RequestRow> Rows { get; private set; } = [];
    public AccessRequestStatus? Status { get; private set; }

    public async Task OnGetAsync(AccessRequestStatus? status, CancellationToken cancellationToken)
    {
        Status = status;
        var requests = catalogue.AccessRequests.AsNoTracking();
        if (status is { } s) requests = requests.Where(r => r.Status == s);
        Rows = await requests.OrderByDescending(r => r.CreatedAt).Take(500)
            .Join(catalogue.Datasets, r => r.DatasetId, d => d.Id, (r, d) => new RequestRow(r, d.Name, d.Slug)).ToListAsync(cancellationToken);
    }
}
