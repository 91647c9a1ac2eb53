using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;

namespace DataWorkspace.Web.Catalogue;

/// <summary>Datasets by their address, for the audit log's filter.</summary>
public sealed class AuditedDatasets(CatalogueDbContext catalogue) : IAuditedDatasets
{
    public IQueryable<Guid?> IdsAt(string slug) => catalogue.Datasets.Where(d => d.Slug == slug).Select(d => (Guid?)d.Id);
}
