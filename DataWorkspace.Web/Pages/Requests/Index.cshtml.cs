using DataWorkspace.Web.Access;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Pages.Requests;

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

        var email = User.EmailOf().ToLower();
        var pending = catalogue.AccessRequests.Where(r => r.Status == AccessRequestStatus.Pending);
        if (!User.IsAdmin())
            pending = pending.Where(r => catalogue.Datasets.Any(d => d.Id == r.DatasetId
                && (d.InformationAssetOwner.ToLower() == email || d.InformationAssetManager.ToLower() == email || d.Editors.Contains(User.EmailOf()))));
        AwaitingMe = await Rows(pending).ToListAsync(cancellationToken);
    }

    private IQueryable<RequestRow> Rows(IQueryable<AccessRequest> requests) =>
        requests.AsNoTracking().OrderByDescending(r => r.CreatedAt)
            .Join(catalogue.Datasets, r => r.DatasetId, d => d.Id, (r, d) => new RequestRow(r, d.Name, d.Slug));
}
