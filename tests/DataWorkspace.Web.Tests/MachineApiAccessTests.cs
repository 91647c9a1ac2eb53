using System.Net;
using System.Net.Http.Json;
using DataWorkspace.Web.Catalogue;

namespace DataWorkspace.Web.Tests;

/// <summary>The machine API applies the catalogue's own access rule to a client's service identity.</summary>
public sealed class MachineApiAccessTests(WebFixture web, MachineApiFixture machine) : IClassFixture<MachineApiFixture>
{
    private readonly CatalogueData data = new(web);
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private sealed record Detail(string Slug, string AccessStatus, bool CanRead, DateTimeOffset? AccessExpiresAt);

    public enum ClientKind { NoAccess, Named, ByEmailDomain, ApprovedRequest, Expired }

    [Theory]
    [InlineData(AccessType.Open, ClientKind.NoAccess, AccessStatus.Everyone)]
    [InlineData(AccessType.RequiresAuthentication, ClientKind.NoAccess, AccessStatus.Everyone)]
    [InlineData(AccessType.RequiresAuthorization, ClientKind.NoAccess, AccessStatus.None)]
    [InlineData(AccessType.RequiresAuthorization, ClientKind.Named, AccessStatus.ByPermission)]
    [InlineData(AccessType.RequiresAuthorization, ClientKind.ByEmailDomain, AccessStatus.ByEmailDomain)]
    [InlineData(AccessType.RequiresAuthorization, ClientKind.ApprovedRequest, AccessStatus.ByPermission)]
    [InlineData(AccessType.RequiresAuthorization, ClientKind.Expired, AccessStatus.Expired)]
    [InlineData(AccessType.Open, ClientKind.Expired, AccessStatus.Everyone)]
    public async Task A_client_reads_rows_exactly_when_the_access_rule_lets_its_service_identity(AccessType accessType, ClientKind kind, AccessStatus expected)
    {
        var dataset = await data.DatasetAsync(accessType, domains: kind == ClientKind.ByEmailDomain ? ["partner.example"] : null);
        await GrantAsync(dataset, kind);
        var canRead = expected is AccessStatus.Everyone or AccessStatus.ByEmailDomain or AccessStatus.ByPermission;

        var detail = await machine.GetAsync(machine.Partner, $"/api/machine/v1/datasets/{dataset.Slug}");
        var rows = await machine.GetAsync(machine.Partner, $"/api/machine/v1/datasets/{dataset.Slug}/tables/rows/rows");
        var list = await (await machine.GetAsync(machine.Partner, "/api/machine/v1/datasets")).Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.OK, detail.StatusCode);
        var decision = (await detail.Content.ReadFromJsonAsync<Detail>(Cancel))!;
        Assert.Equal(expected.ToString(), decision.AccessStatus);
        Assert.Equal(canRead, decision.CanRead);
        var body = await rows.Content.ReadAsStringAsync(Cancel);
        Assert.Equal(canRead ? HttpStatusCode.OK : HttpStatusCode.Forbidden, rows.StatusCode);
        Assert.Equal(canRead, body.Contains("alpha-", StringComparison.Ordinal));
        Assert.Equal(canRead, list.Contains(dataset.Slug, StringComparison.Ordinal));
        if (!canRead)
        {
            Assert.Equal("application/problem+json", rows.Content.Headers.ContentType!.MediaType);
            Assert.Contains("No access to this dataset", body);
        }
    }

    [Fact]
    public async Task A_permission_for_one_client_does_not_let_another_client_read()
    {
        var dataset = await data.DatasetAsync(AccessType.RequiresAuthorization);
        await GrantAsync(dataset, ClientKind.Named);

        var other = await machine.GetAsync(machine.Trade, $"/api/machine/v1/datasets/{dataset.Slug}/tables/rows/rows");

        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
    }

    [Fact]
    public async Task An_unknown_dataset_or_table_is_a_404_problem()
    {
        var dataset = await data.DatasetAsync(AccessType.Open);

        var noDataset = await machine.GetAsync(machine.Partner, "/api/machine/v1/datasets/no-such-dataset");
        var noTable = await machine.GetAsync(machine.Partner, $"/api/machine/v1/datasets/{dataset.Slug}/tables/no_such_table/rows");

        Assert.Equal(HttpStatusCode.NotFound, noDataset.StatusCode);
        Assert.Contains("Unknown dataset", await noDataset.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.NotFound, noTable.StatusCode);
        Assert.Contains("Unknown table", await noTable.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task A_machine_client_is_not_recorded_as_a_user()
    {
        await machine.GetAsync(machine.Partner, "/api/machine/v1/datasets");

        Assert.Equal(0L, await web.ScalarAsync<long>("SELECT count(*) FROM users WHERE id LIKE 'machine:%'"));
    }

    private async Task GrantAsync(Dataset dataset, ClientKind kind)
    {
        if (kind is ClientKind.NoAccess or ClientKind.ByEmailDomain) return;
        await using var context = data.Context();
        context.Permissions.Add(new DatasetPermission
        {
            DatasetId = dataset.Id,
            UserId = "machine:" + machine.Partner.Id,
            Source = kind == ClientKind.ApprovedRequest ? PermissionSource.AccessRequest : PermissionSource.Granted,
            GrantedAt = DateTimeOffset.UtcNow.AddDays(-10),
            GrantedBy = "test",
            ExpiresAt = kind == ClientKind.Expired ? DateTimeOffset.UtcNow.AddDays(-1) : null,
        });
        await context.SaveChangesAsync(Cancel);
    }
}
