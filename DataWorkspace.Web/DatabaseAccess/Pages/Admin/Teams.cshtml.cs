using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.DatabaseAccess.Pages.Admin;

public sealed record TeamRow(Team Team, List<User> Members);

/// <summary>Teams: each has a role and a schema (<c>_team_&lt;slug&gt;</c>) in the datasets database that its members write.</summary>
public sealed class TeamsModel(CatalogueDbContext catalogue, AuditLog audit, TimeProvider time) : PageModel
{
    public List<TeamRow> Teams { get; private set; } = [];
    public string? Message { get; private set; }
    /// <summary>What is wrong, by the id of the field it is about.</summary>
    public Dictionary<string, string> Errors { get; } = [];

    public async Task OnGetAsync(string? message, CancellationToken cancellationToken)
    {
        Message = message;
        await LoadAsync(cancellationToken);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var teams = await catalogue.Set<Team>().AsNoTracking().Include(t => t.Members).OrderBy(t => t.Name).ToListAsync(cancellationToken);
        var ids = teams.SelectMany(t => t.Members.Select(m => m.UserId)).Distinct().ToList();
        var users = await catalogue.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, cancellationToken);
        Teams = [.. teams.Select(t => new TeamRow(t, [.. t.Members.Select(m => users.GetValueOrDefault(m.UserId)).OfType<User>().OrderBy(u => u.Name)]))];
    }

    public async Task<IActionResult> OnPostCreateAsync(string? name, string? slug, CancellationToken cancellationToken)
    {
        name = name?.Trim() ?? "";
        slug = slug?.Trim().ToLowerInvariant() ?? "";
        if (name.Length is 0 or > 200) Errors["name"] = "Give the team a name of up to 200 characters.";
        else if (!DatabaseRoleNames.IsValidTeamSlug(slug))
            Errors["slug"] = $"'{slug}' cannot name a schema: use a lower-case letter, then letters, digits or underscores, up to {DatabaseRoleNames.MaxSlugLength} characters.";
        else if (await catalogue.Set<Team>().AnyAsync(t => t.Slug == slug, cancellationToken)) Errors["slug"] = $"A team called '{slug}' already exists.";
        if (Errors.Count > 0)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            await LoadAsync(cancellationToken);
            return Page();
        }

        catalogue.Add(new Team { Name = name, Slug = slug, CreatedAt = time.GetUtcNow() });
        audit.Add(AuditActions.TeamChanged, Actor.Of(User), $"Team '{name}' created (schema {DatabaseRoleNames.Team(slug)})");
        await catalogue.SaveChangesAsync(cancellationToken);
        return Redirect($"/admin/teams?message={Uri.EscapeDataString($"Team {name} created.")}");
    }

    public async Task<IActionResult> OnPostAddAsync(Guid team, string? email, CancellationToken cancellationToken)
    {
        var found = await catalogue.Set<Team>().Include(t => t.Members).FirstOrDefaultAsync(t => t.Id == team, cancellationToken);
        var user = await catalogue.Users.FirstOrDefaultAsync(u => u.Email.ToLower() == (email ?? "").Trim().ToLower(), cancellationToken);
        if (found is null) return NotFound();
        if (user is null)
        {
            Errors[EmailFieldOf(found)] = $"Nobody with the email '{email}' has signed in yet. They need to sign in once before they can join a team.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            await LoadAsync(cancellationToken);
            return Page();
        }

        if (found.Members.All(m => m.UserId != user.Id))
        {
            found.Members.Add(new TeamMember { UserId = user.Id, AddedAt = time.GetUtcNow() });
            audit.Add(AuditActions.TeamChanged, Actor.Of(User), $"{user.Name} added to team '{found.Name}'", subjectUserId: user.Id);
            await catalogue.SaveChangesAsync(cancellationToken);
        }

        return Redirect($"/admin/teams?message={Uri.EscapeDataString($"{user.Name} is in {found.Name}.")}");
    }

    public async Task<IActionResult> OnPostRemoveAsync(Guid team, string user, CancellationToken cancellationToken)
    {
        var found = await catalogue.Set<Team>().Include(t => t.Members).FirstOrDefaultAsync(t => t.Id == team, cancellationToken);
        if (found?.Members.FirstOrDefault(m => m.UserId == user) is not { } member) return NotFound();
        found.Members.Remove(member);
        audit.Add(AuditActions.TeamChanged, Actor.Of(User), $"A member removed from team '{found.Name}'", subjectUserId: user);
        await catalogue.SaveChangesAsync(cancellationToken);
        return Redirect($"/admin/teams?message={Uri.EscapeDataString($"Removed from {found.Name}.")}");
    }

    /// <summary>The id of the field that adds a member to this team.</summary>
    public static string EmailFieldOf(Team team) => "email-" + team.Slug;
}
