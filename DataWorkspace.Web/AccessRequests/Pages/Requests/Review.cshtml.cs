using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.AccessRequests.Pages.Requests;

/// <summary>An approver's view of one request, with approve and reject (a rejection needs a comment).</summary>
public sealed class ReviewModel(CatalogueDbContext catalogue, AccessRequestService requests) : PageModel
{
    public AccessRequest AccessRequest { get; private set; } = null!;
    public Dataset Dataset { get; private set; } = null!;
    public string? Refusal { get; private set; }
    /// <summary>The id of the field the refusal is about, empty when it is about none.</summary>
    public string RefusalField { get; private set; } = "";
    public string? Done { get; private set; }

    public async Task<IActionResult> OnGetAsync(Guid id, CancellationToken cancellationToken)
    {
        if (!await LoadAsync(id, cancellationToken)) return NotFound();
        if (!DatasetAccess.IsApprover(Dataset, User))
        {
            Refusal = $"Only the approvers of '{Dataset.Name}' (its information asset owner, manager and editors) or an admin can see and decide this request.";
            Response.StatusCode = StatusCodes.Status403Forbidden;
        }

        return Page();
    }

    public async Task<IActionResult> OnPostAsync(Guid id, string? decision, string? comment, CancellationToken cancellationToken)
    {
        if (decision is not ("approve" or "reject")) return BadRequest();
        var outcome = await requests.DecideAsync(id, decision == "approve", comment, User, cancellationToken);
        if (outcome.Refusal == AccessRefusal.NotFound) return NotFound();
        await LoadAsync(id, cancellationToken);
        if (outcome.Refusal is { } refusal)
        {
            Refusal = outcome.Message;
            // An invalid decision is one whose comment is missing or too long.
            RefusalField = refusal == AccessRefusal.Invalid ? "comment" : "";
            Response.StatusCode = refusal.StatusCode();
        }
        else Done = outcome.Message;

        return Page();
    }

    private async Task<bool> LoadAsync(Guid id, CancellationToken cancellationToken)
    {
        var request = await catalogue.AccessRequests.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, cancellationToken);
        if (request is null) return false;
        AccessRequest = request;
        Dataset = await catalogue.Datasets.AsNoTracking().FirstAsync(d => d.Id == request.DatasetId, cancellationToken);
        return true;
    }
}
