using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Catalogue.Pages.Datasets;

public sealed class DatasetModel(CatalogueDbContext catalogue, DatasetAccess datasetAccess, IPendingAccessRequests requests, DatasetsDatabase datasets, TimeProvider time) : PageModel
{
    public Dataset Dataset { get; private set; } = null!;
    public DatasetAccessDecision Access { get; private set; } = null!;
    public bool Bookmarked { get; private set; }
    public bool IsApprover { get; private set; }
    public DateTimeOffset? PendingRequestSince { get; private set; }
    public List<(SourceTable Table, IReadOnlyList<TableColumn> Columns, TablePreview? Preview)> Tables { get; } = [];

    /// <summary>Charts of the tables whose numbers run over dates, for readers only, by table.</summary>
    public Dictionary<Guid, TableChart> Charts { get; } = [];

    public async Task<IActionResult> OnGetAsync(string slug, CancellationToken cancellationToken)
    {
        var dataset = await CatalogueApi.PublishedDataset(catalogue, slug, cancellationToken);
        if (dataset is null) return NotFound();
        Dataset = dataset;
        Access = await datasetAccess.DecideAsync(dataset, User.AsReader(), cancellationToken);
        var userId = User.Id();
        Bookmarked = await catalogue.Bookmarks.AnyAsync(b => b.DatasetId == dataset.Id && b.UserId == userId, cancellationToken);
        IsApprover = DatasetAccess.IsApprover(dataset, User);
        if (!Access.CanRead && dataset.AccessType == AccessType.RequiresAuthorization)
            PendingRequestSince = await requests.PendingSinceAsync(dataset.Id, userId, cancellationToken);

        foreach (var table in dataset.Tables.OrderBy(t => t.Name))
        {
            var columns = await datasets.ColumnsAsync(table, cancellationToken);
            var preview = Access.CanRead ? await datasets.PreviewAsync(table, columns, cancellationToken) : null;
            Tables.Add((table, columns, preview));
            if (preview is not null && await datasets.ChartAsync(table, columns, cancellationToken) is { } chart) Charts[table.Id] = chart;
        }

        return Page();
    }

    public async Task<IActionResult> OnPostBookmarkAsync(string slug, bool bookmark, CancellationToken cancellationToken)
    {
        var dataset = await CatalogueApi.PublishedDataset(catalogue, slug, cancellationToken);
        if (dataset is null) return NotFound();
        var userId = User.Id();
        var existing = await catalogue.Bookmarks.FirstOrDefaultAsync(b => b.DatasetId == dataset.Id && b.UserId == userId, cancellationToken);
        if (bookmark && existing is null)
            catalogue.Bookmarks.Add(new Bookmark { DatasetId = dataset.Id, UserId = userId, CreatedAt = time.GetUtcNow() });
        else if (!bookmark && existing is not null)
            catalogue.Bookmarks.Remove(existing);
        await catalogue.SaveChangesAsync(cancellationToken);
        return RedirectToPage(new { slug });
    }
}
