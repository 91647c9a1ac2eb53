using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.AccessRequests.Pages.Datasets;

public sealed record PermissionRow(DatasetPermission Permission, string Email, string Name);

/// <summary>For a dataset's approvers: who has access, until when and how; give access; take it away at any time.</summary>
public sealed class ManageAccessModel(CatalogueDbContext catalogue, AccessRequestService requests, TimeProvider time) : PageModel
{
    public Dataset Dataset { get; private set; } = null!;
    public List<PermissionRow> Active { get; private set; } = [];
    public List<AccessRequest> Pending { get; private set; } = [];
    public string? Message { get; private set; }
    public bool Failed { get; private set; }
    /// <summary>What went wrong giving access, by the id of the field it is about.</summary>
    public Dictionary<string, string> Errors { get; } = [];

    public async Task<IActionResult> OnGetAsync(string slug, CancellationToken cancellationToken) =>
        await LoadAsync(slug, cancellationToken) ?? Page();

    public async Task<IActionResult> OnPostRevokeAsync(string slug, Guid permission, CancellationToken cancellationToken)
    {
        if (await LoadAsync(slug, cancellationToken) is { } stop) return stop;
        return await ShowAsync(slug, await requests.RevokeAsync(permission, User, cancellationToken), cancellationToken);
    }

    public async Task<IActionResult> OnPostGrantAsync(string slug, string? email, DateOnly? until, CancellationToken cancellationToken)
    {
        if (await LoadAsync(slug, cancellationToken) is { } stop) return stop;
        var outcome = string.IsNullOrWhiteSpace(email)
            ? AccessOutcome.Refused("Enter the email of the person to give access to.", AccessRefusal.Invalid)
            : await requests.GrantAsync(Dataset, email, until, User, cancellationToken);
        if (!outcome.Done) Errors["email"] = outcome.Message;
        return await ShowAsync(slug, outcome, cancellationToken);
    }

    private async Task<IActionResult> ShowAsync(string slug, AccessOutcome outcome, CancellationToken cancellationToken)
    {
        await LoadAsync(slug, cancellationToken);
        Message = outcome.Message;
        Failed = !outcome.Done;
        if (outcome.Refusal is { } refusal) Response.StatusCode = refusal.StatusCode();
        return Page();
    }

    private async Task<IActionResult?> LoadAsync(string slug, CancellationToken cancellationToken)
    {
        var dataset = await CatalogueApi.PublishedDataset(catalogue, slug, cancellationToken);
        if (dataset is null) return NotFound();
        Dataset = dataset;
        if (!DatasetAccess.IsApprover(dataset, User)) return Forbid();

        Active = await catalogue.Permissions.AsNoTracking().ActiveAt(time.GetUtcNow())
            .Where(p => p.DatasetId == dataset.Id)
            .Join(catalogue.Users, p => p.UserId, u => u.Id, (p, u) => new PermissionRow(p, u.Email, u.Name))
            .ToListAsync(cancellationToken);
        Active.Sort((a, b) => string.Compare(a.Email, b.Email, StringComparison.OrdinalIgnoreCase));
        Pending = await catalogue.AccessRequests.AsNoTracking()
            .Where(r => r.DatasetId == dataset.Id && r.Status == AccessRequestStatus.Pending).OrderBy(r => r.CreatedAt).ToListAsync(cancellationToken);
        return null;
    }
}
