using DataWorkspace.Contracts;
using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Notifications;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>The access request journey through the app's services, its pages and its audit log, on a real PostgreSQL.</summary>
public sealed class AccessRequestTests(WebFixture web) : IAsyncDisposable
{
    private readonly CatalogueData data = new(web);
    private readonly PlatformScope app = new(web);
    private readonly PlatformIdentity owner = CatalogueData.NewUser("trade.example");
    private readonly PlatformIdentity requester = CatalogueData.NewUser("partner.example");
    private readonly PlatformIdentity stranger = CatalogueData.NewUser("partner.example");

    private async Task<Dataset> RestrictedAsync(string[]? domains = null)
    {
        var dataset = await data.DatasetAsync(AccessType.RequiresAuthorization, domains);
        await using var context = data.Context();
        await context.Datasets.Where(d => d.Id == dataset.Id).ExecuteUpdateAsync(d => d
            .SetProperty(x => x.InformationAssetOwner, owner.Email)
            .SetProperty(x => x.EligibilityCriteria, new List<string> { "I work on trade policy" }), TestContext.Current.CancellationToken);
        await app.SignInAsync(owner, requester, stranger);
        return (await CatalogueApiDataset(dataset.Slug))!;
    }

    private Task<Dataset?> CatalogueApiDataset(string slug) =>
        app.WithAsync<CatalogueDbContext, Dataset?>(catalogue => CatalogueApi.PublishedDataset(catalogue, slug, default));

    private Task<AccessRequest> SubmitAsync(Dataset dataset, int months = 1) =>
        app.WithAsync<AccessRequestService, AccessRequest>(async requests =>
        {
            var (outcome, request) = await requests.SubmitAsync(dataset, PlatformScope.Principal(requester), "Modelling tariffs", months, dataset.EligibilityCriteria, default);
            Assert.True(outcome.Done, outcome.Message);
            return request!;
        });

    private Task<AccessOutcome> DecideAsync(AccessRequest request, bool approve, PlatformIdentity by, string? comment = null) =>
        app.WithAsync<AccessRequestService, AccessOutcome>(requests => requests.DecideAsync(request.Id, approve, comment, PlatformScope.Principal(by), default));

    private Task<List<string>> AuditActionsAsync(Dataset dataset) =>
        app.WithAsync<CatalogueDbContext, List<string>>(catalogue =>
            catalogue.AuditEvents.Where(e => e.DatasetId == dataset.Id).OrderBy(e => e.Id).Select(e => e.Action).ToListAsync());

    private Task<AccessRequestStatus> StatusAsync(AccessRequest request) =>
        app.WithAsync<CatalogueDbContext, AccessRequestStatus>(catalogue => catalogue.AccessRequests.Where(r => r.Id == request.Id).Select(r => r.Status).SingleAsync());

    [Fact]
    public async Task An_approved_request_shows_the_rows_until_its_end_date_then_the_sweep_ends_it()
    {
        var dataset = await RestrictedAsync();
        Assert.Contains("Request access", await app.PageAsync($"/datasets/{dataset.Slug}", requester));

        var request = await SubmitAsync(dataset, months: 1);
        Assert.Contains("waiting for a decision", await app.PageAsync($"/datasets/{dataset.Slug}", requester));
        Assert.Contains("Pending", await app.PageAsync("/requests", requester));
        Assert.Contains(requester.Email, await app.PageAsync("/requests", owner));

        var approved = await DecideAsync(request, approve: true, owner);
        Assert.True(approved.Done, approved.Message);
        var page = await app.PageAsync($"/datasets/{dataset.Slug}", requester);
        Assert.Contains("alpha-", page);
        Assert.Contains($"until {AccessRequest.EndOf(request.NeededUntil):d MMMM yyyy}", page);
        Assert.DoesNotContain("alpha-", await app.PageAsync($"/datasets/{dataset.Slug}", stranger));
        Assert.Contains("\"accessStatus\":\"ByPermission\",\"canRead\":true", await app.PageAsync($"/api/v1/datasets/{dataset.Slug}", requester));

        app.Clock.Advance(TimeSpan.FromDays(40));
        var expired = await app.PageAsync($"/datasets/{dataset.Slug}", requester);
        Assert.Contains("Your access to this data ended on", expired);
        Assert.DoesNotContain("alpha-", expired);
        Assert.Contains("\"accessStatus\":\"Expired\",\"canRead\":false", await app.PageAsync($"/api/v1/datasets/{dataset.Slug}", requester));

        // Sweeps of other tests' apps share the database and take turns (an advisory lock): ours may find the lock
        // held, or another's moved clock may end it first. Either way the next sweep after the end date ends it.
        for (var attempt = 0; attempt < 50 && await StatusAsync(request) != AccessRequestStatus.Expired; attempt++)
        {
            if (attempt > 0) await Task.Delay(100, TestContext.Current.CancellationToken);
            await app.WithAsync<ExpirySweeper, (int, int)>(sweeper => sweeper.SweepAsync(default));
        }

        Assert.Equal(AccessRequestStatus.Expired, await StatusAsync(request));
        Assert.Equal([AuditActions.AccessRequested, AuditActions.AccessGranted, AuditActions.AccessExpired], await AuditActionsAsync(dataset));
        var emails = await app.WithAsync<CatalogueDbContext, List<string>>(c => c.Outbox.Where(m => m.To == owner.Email || m.To == requester.Email).Select(m => m.To + ": " + m.Subject).ToListAsync());
        Assert.Contains($"{owner.Email}: Access request: {dataset.Name}", emails);
        Assert.Contains($"{requester.Email}: Access approved: {dataset.Name}", emails);
        Assert.Contains($"{requester.Email}: Access ended: {dataset.Name}", emails);
    }

    [Fact]
    public async Task Only_an_approver_decides_and_only_once()
    {
        var dataset = await RestrictedAsync();
        var request = await SubmitAsync(dataset);

        var byStranger = await DecideAsync(request, approve: true, stranger);
        Assert.False(byStranger.Done);
        Assert.Equal(403, byStranger.Refusal?.StatusCode());
        Assert.Contains("Only the approvers", byStranger.Message);
        Assert.Equal(AccessRequestStatus.Pending, await StatusAsync(request));

        Assert.True((await DecideAsync(request, approve: true, owner)).Done);
        var again = await DecideAsync(request, approve: false, owner, "changed my mind");
        Assert.False(again.Done);
        Assert.Contains($"already approved by {owner.Email}", again.Message);
        Assert.Equal(AccessRequestStatus.Approved, await StatusAsync(request));
        Assert.Contains("This cannot be done", await app.PageAsync($"/access-requests/{request.Id}", stranger));
    }

    [Fact]
    public async Task A_rejection_needs_a_comment_and_the_requester_sees_it()
    {
        var dataset = await RestrictedAsync();
        var request = await SubmitAsync(dataset);

        Assert.Contains("Say why", (await DecideAsync(request, approve: false, owner)).Message);
        Assert.True((await DecideAsync(request, approve: false, owner, "Use the published aggregates instead")).Done);

        var mine = await app.PageAsync("/requests", requester);
        Assert.Contains("Rejected", mine);
        Assert.Contains("Use the published aggregates instead", mine);
        Assert.Contains(AuditActions.AccessRejected, await AuditActionsAsync(dataset));
    }

    [Fact]
    public async Task Asking_for_data_you_already_have_or_already_asked_for_is_refused_with_the_reason()
    {
        var byDomain = await RestrictedAsync(domains: ["partner.example"]);
        var refused = await app.WithAsync<AccessRequestService, string?>(r => r.CannotRequestAsync(byDomain, PlatformScope.Principal(requester), default));
        Assert.Equal("You already have access to this data.", refused);
        Assert.Contains("You already have access to this data.", await app.PageAsync($"/datasets/{byDomain.Slug}/request-access", requester));

        var dataset = await RestrictedAsync();
        await SubmitAsync(dataset);
        var twice = await app.WithAsync<AccessRequestService, string?>(r => r.CannotRequestAsync(dataset, PlatformScope.Principal(requester), default));
        Assert.Contains("waiting for a decision", twice);
    }

    [Fact]
    public async Task The_owner_revokes_access_at_any_time_and_a_stranger_cannot()
    {
        var dataset = await RestrictedAsync();
        var request = await SubmitAsync(dataset, months: 12);
        await DecideAsync(request, approve: true, owner);
        var permissionId = await app.WithAsync<CatalogueDbContext, Guid>(c => c.Permissions.Where(p => p.AccessRequestId == request.Id).Select(p => p.Id).SingleAsync());
        Assert.Contains(requester.Email, await app.PageAsync($"/datasets/{dataset.Slug}/access", owner));

        var byStranger = await app.WithAsync<AccessRequestService, AccessOutcome>(r => r.RevokeAsync(permissionId, PlatformScope.Principal(stranger), default));
        Assert.Equal(403, byStranger.Refusal?.StatusCode());
        Assert.Contains("alpha-", await app.PageAsync($"/datasets/{dataset.Slug}", requester));

        var revoked = await app.WithAsync<AccessRequestService, AccessOutcome>(r => r.RevokeAsync(permissionId, PlatformScope.Principal(owner), default));
        Assert.True(revoked.Done, revoked.Message);
        var page = await app.PageAsync($"/datasets/{dataset.Slug}", requester);
        Assert.Contains("Your access to this data was removed", page);
        Assert.DoesNotContain("alpha-", page);
        Assert.Equal(AccessRequestStatus.Revoked, await StatusAsync(request));
        Assert.Equal(AuditActions.AccessRevoked, (await AuditActionsAsync(dataset)).Last());
    }

    [Fact]
    public async Task The_audit_log_cannot_be_rewritten_or_erased()
    {
        var dataset = await RestrictedAsync();
        await SubmitAsync(dataset);

        var update = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => web.ScalarAsync<object>("UPDATE audit_events SET summary = 'nothing happened' WHERE dataset_id = $1", dataset.Id));
        var delete = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => web.ScalarAsync<object>("DELETE FROM audit_events WHERE dataset_id = $1", dataset.Id));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => web.ScalarAsync<object>("TRUNCATE audit_events"));

        Assert.Contains("append-only", update.MessageText);
        Assert.Contains("append-only", delete.MessageText);
        Assert.Equal([AuditActions.AccessRequested], await AuditActionsAsync(dataset));
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();
}
