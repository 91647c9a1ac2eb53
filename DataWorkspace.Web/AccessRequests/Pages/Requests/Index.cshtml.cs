using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.AccessRequests.Pages.Requests;

public sealed record RequestRow(AccessRequest Request, string DatasetName, string DatasetSlug);

/// <summary>The requester's own page: every request they made and where it stands; and, for approvers, what waits for them.</summary>
public sealed class IndexModel(CatalogueDbContext catalogue) : PageModel
{
    public List<RequestRow> Mine { get; private set; } = [];
    public List<RequestRow> AwaitingMe { get; private set; } = [];
    public Guid? Sent { get; private set; }

    public async Task OnGetAsync(Guid? sent, CancellationToken cancellationToken)
    {
        Sent = sent;
        var userId = User.Id();
        Mine = await Rows(catalogue.AccessRequests.Where(r => r.UserId == userId)).ToListAsync(cancellationToken);

        var pending = catalogue.AccessRequests.Where(r => r.Status == AccessRequestStatus.Pending);
        if (!User.IsAdmin())
        {
            var approvable = catalogue.Datasets.Where(Dataset.ApprovableBy(User.EmailOf()));
            pending = pending.Where(r => approvable.Any(d => d.Id == r.DatasetId));
        }
        AwaitingMe = await Rows(pending).ToListAsync(cancellationToken);
    }

    private IQueryable<RequestRow> Rows(IQueryable<AccessRequest> requests) =>
        requests.AsNoTracking().OrderByDescending(r => r.CreatedAt)
            .Join(catalogue.Datasets, r => r.DatasetId, d => d.Id, (r, d) => new RequestRow(r, d.Name, d.Slug));
}
