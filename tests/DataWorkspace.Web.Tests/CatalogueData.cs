using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tests;

/// <summary>Makes catalogue entries and their tables for one test, with names no other test uses.</summary>
public sealed class CatalogueData(WebFixture web)
{
    public CatalogueDbContext Context()
    {
        var options = new DbContextOptionsBuilder<CatalogueDbContext>();
        options.UseCatalogue(web.CatalogueConnectionString);
        return new CatalogueDbContext(options.Options);
    }

    /// <summary>A published dataset over a fresh 3-row table in the datasets database.</summary>
    public async Task<Dataset> DatasetAsync(AccessType access, string[]? domains = null, string? name = null, string? shortDescription = null)
    {
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var schema = "test_" + suffix;
        await Sql.ScalarAsync<object>(web.DatasetsConnectionString,
            $"CREATE SCHEMA {schema}; CREATE TABLE {schema}.rows (id int, label text); INSERT INTO {schema}.rows VALUES (1, 'alpha-{suffix}'), (2, 'beta'), (3, NULL)");

        var dataset = new Dataset
        {
            Name = name ?? $"Test dataset {suffix}",
            Slug = $"test-{suffix}",
            ShortDescription = shortDescription ?? "A dataset made by a test",
            AccessType = access,
            AuthorizedEmailDomains = [.. domains ?? []],
            Published = true,
            PublishedAt = DateTimeOffset.UtcNow,
            Publisher = "Test publisher " + suffix,
            Tables = [new SourceTable { Name = "Rows", Schema = schema, Table = "rows" }],
        };
        await using var context = Context();
        context.Datasets.Add(dataset);
        await context.SaveChangesAsync();
        return dataset;
    }

    public async Task GrantAsync(Dataset dataset, PlatformIdentity user, DateTimeOffset? expiresAt)
    {
        await using var context = Context();
        context.Permissions.Add(new DatasetPermission
        {
            DatasetId = dataset.Id, UserId = user.UserId, GrantedAt = DateTimeOffset.UtcNow, GrantedBy = "test", ExpiresAt = expiresAt,
        });
        await context.SaveChangesAsync();
    }

    public static PlatformIdentity NewUser(string domain) =>
        new(Guid.NewGuid().ToString(), $"user-{Guid.NewGuid():N}@{domain}", "Test User", [], "127.0.0.1");
}
