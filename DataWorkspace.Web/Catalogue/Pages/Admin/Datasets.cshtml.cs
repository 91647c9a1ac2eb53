using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Catalogue.Pages.Admin;

/// <summary>Every catalogue entry, published or not, with publish, unpublish and remove (a soft delete, kept for the audit trail).</summary>
public sealed class DatasetsModel(CatalogueDbContext catalogue, AuditLog audit, TimeProvider time) : PageModel
{
    public List<Dataset> Datasets { get; private set; } = [];
    public string? Message { get; private set; }

    public async Task OnGetAsync(string? message, CancellationToken cancellationToken)
    {
        Message = message;
        Datasets = await catalogue.Datasets.AsNoTracking().Where(d => d.DeletedAt == null).OrderBy(d => d.Name).ToListAsync(cancellationToken);
    }

    public async Task<IActionResult> OnPostAsync(Guid id, string action, CancellationToken cancellationToken)
    {
        var dataset = await catalogue.Datasets.FirstOrDefaultAsync(d => d.Id == id && d.DeletedAt == null, cancellationToken);
        if (dataset is null) return NotFound();
        var actor = Actor.Of(User);
        var now = time.GetUtcNow();
        string message;
        switch (action)
        {
            case "publish" when !dataset.Published:
                dataset.Published = true;
                dataset.PublishedAt ??= now;
                audit.Add(AuditActions.DatasetPublished, actor, $"{actor.Email} published '{dataset.Name}'", dataset.Id);
                message = $"'{dataset.Name}' is published: it is in the catalogue for everyone.";
                break;
            case "unpublish" when dataset.Published:
                dataset.Published = false;
                audit.Add(AuditActions.DatasetUnpublished, actor, $"{actor.Email} unpublished '{dataset.Name}'", dataset.Id);
                message = $"'{dataset.Name}' is unpublished: only admins see it now.";
                break;
            case "delete":
                dataset.DeletedAt = now;
                dataset.Published = false;
                audit.Add(AuditActions.DatasetDeleted, actor, $"{actor.Email} removed '{dataset.Name}' from the catalogue", dataset.Id);
                message = $"'{dataset.Name}' was removed from the catalogue.";
                break;
            default:
                return RedirectToPage(new { message = $"'{dataset.Name}' is already in that state." });
        }

        dataset.UpdatedAt = now;
        await catalogue.SaveChangesAsync(cancellationToken);
        return RedirectToPage(new { message });
    }
}
