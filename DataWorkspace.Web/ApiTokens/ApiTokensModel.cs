using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.ApiTokens;

/// <summary>How personal API tokens map to their table.</summary>
[CatalogueTables]
public static class ApiTokensModel
{
    extension(CatalogueDbContext catalogue)
    {
        public DbSet<ApiToken> ApiTokens => catalogue.Set<ApiToken>();
    }

    public static void Configure(ModelBuilder model)
    {
        model.Entity<ApiToken>(token =>
        {
            token.ToTable("api_tokens");
            token.HasKey(t => t.Id);
            token.Property(t => t.Id).HasMaxLength(32);
            token.Property(t => t.UserId).HasMaxLength(255);
            token.Property(t => t.Name).HasMaxLength(ApiTokenRules.NameLength);
            token.Property(t => t.Hash).HasMaxLength(64).IsFixedLength();
            token.Property(t => t.RevokedBy).HasMaxLength(320);
            token.HasOne<User>().WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
            token.HasIndex(t => new { t.UserId, t.CreatedAt });
        });
    }
}
