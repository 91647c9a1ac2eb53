using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.AccessRequests;

/// <summary>How access requests map to tables.</summary>
[CatalogueTables]
public static class AccessRequestModel
{
    extension(CatalogueDbContext catalogue)
    {
        public DbSet<AccessRequest> AccessRequests => catalogue.Set<AccessRequest>();
    }

    public static void Configure(ModelBuilder model)
    {
        model.Entity<AccessRequest>(request =>
        {
            request.ToTable("access_requests");
            request.Property(r => r.Status).HasConversion<string>().HasMaxLength(16);
            request.Property(r => r.Version).IsRowVersion();
            request.Property(r => r.UserId).HasMaxLength(255);
            request.Property(r => r.UserEmail).HasMaxLength(320);
            request.Property(r => r.Reason).HasMaxLength(AccessRequestLimits.ReasonLength);
            request.Property(r => r.DecisionComment).HasMaxLength(AccessRequestLimits.CommentLength);
            request.HasIndex(r => new { r.UserId, r.CreatedAt });
            request.HasIndex(r => new { r.DatasetId, r.Status });
            // Named here: the catalogue maps the datasets table after this feature, so the convention would name it after the type.
            request.HasOne<Dataset>().WithMany().HasForeignKey(r => r.DatasetId).OnDelete(DeleteBehavior.Cascade).HasConstraintName("fk_access_requests_datasets_dataset_id");
        });
    }
}
