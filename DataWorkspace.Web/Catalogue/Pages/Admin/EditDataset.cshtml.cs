using System.Text.RegularExpressions;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Security;
using DataWorkspace.Web.Text;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Catalogue.Pages.Admin;

/// <summary>
/// Creates or edits a catalogue entry and its sources. Lists are edited one item per line; sources as
/// <c>Name | schema.table</c>, <c>Name | url | format</c> and <c>Name | SQL</c>.
/// </summary>
[LongText("Form.Description", "Form.Queries")]
public sealed partial class EditDatasetModel(CatalogueDbContext catalogue, AuditLog audit, TimeProvider time) : PageModel
{
    [BindProperty] public DatasetForm Form { get; set; } = new();
    public Dictionary<string, string> Errors { get; } = [];
    public bool IsNew { get; private set; }

    public async Task<IActionResult> OnGetAsync(Guid? id, CancellationToken cancellationToken)
    {
        IsNew = id is null;
        if (id is null) return Page();
        var dataset = await Load(id.Value).AsNoTracking().FirstOrDefaultAsync(cancellationToken);
        if (dataset is null) return NotFound();
        Form = DatasetForm.From(dataset);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(Guid? id, CancellationToken cancellationToken)
    {
        IsNew = id is null;
        var dataset = id is null ? new Dataset { Name = "", Slug = "", CreatedAt = time.GetUtcNow() } : await Load(id.Value).FirstOrDefaultAsync(cancellationToken);
        if (dataset is null) return NotFound();

        Validate();
        var slug = Form.Slug.Trim();
        if (!Errors.ContainsKey(nameof(Form.Slug)) && await catalogue.Datasets.AnyAsync(d => d.Slug == slug && d.Id != dataset.Id, cancellationToken))
            Errors[nameof(Form.Slug)] = $"Another dataset already has the address '{slug}'.";
        var tables = ParseLines(Form.Tables, 2, nameof(Form.Tables), "Name | schema.table");
        var links = ParseLines(Form.Links, 3, nameof(Form.Links), "Name | url | format");
        var queries = ParseLines(Form.Queries, 2, nameof(Form.Queries), "Name | SQL");
        foreach (var table in tables)
            if (table[1].Split('.') is not [{ Length: > 0 }, { Length: > 0 }]) Errors[nameof(Form.Tables)] = $"'{table[1]}' is not schema.table.";
        if (Errors.Count > 0)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        Form.ApplyTo(dataset);
        if (IsNew) catalogue.Datasets.Add(dataset);
        dataset.Tags = await TagsAsync(cancellationToken);
        // Sources are replaced whole; new rows are added explicitly (their ids are set client-side, so EF would
        // otherwise take them for existing rows to update).
        catalogue.RemoveRange(dataset.Tables);
        catalogue.RemoveRange(dataset.Links);
        catalogue.RemoveRange(dataset.Queries);
        catalogue.AddRange(tables.Select(t => new SourceTable { DatasetId = dataset.Id, Name = t[0], Schema = t[1].Split('.')[0], Table = t[1].Split('.')[1] }));
        catalogue.AddRange(links.Select(l => new SourceLink { DatasetId = dataset.Id, Name = l[0], Url = l[1], Format = l[2] }));
        catalogue.AddRange(queries.Select(q => new CustomQuery { DatasetId = dataset.Id, Name = q[0], Query = q[1] }));
        dataset.UpdatedAt = time.GetUtcNow();
        var actor = Actor.Of(User);
        audit.Add(AuditActions.DatasetUpdated, actor, $"{actor.Email} {(IsNew ? "created" : "edited")} '{dataset.Name}'", dataset.Id);
        await catalogue.SaveChangesAsync(cancellationToken);
        return Redirect($"/admin/datasets?message={Uri.EscapeDataString($"Saved '{dataset.Name}'.")}");
    }

    private IQueryable<Dataset> Load(Guid id) =>
        catalogue.Datasets.AsSplitQuery().Include(d => d.Tags).Include(d => d.Tables).Include(d => d.Links).Include(d => d.Queries)
            .Where(d => d.Id == id && d.DeletedAt == null);

    private void Validate()
    {
        if (string.IsNullOrWhiteSpace(Form.Name)) Errors[nameof(Form.Name)] = "Enter a name.";
        if (!SlugPattern().IsMatch(Form.Slug.Trim())) Errors[nameof(Form.Slug)] = "The address may use lower-case letters, digits and hyphens, like 'uk-trade-in-goods'.";
    }

    private List<string[]> ParseLines(string text, int parts, string field, string shape)
    {
        var parsed = new List<string[]>();
        foreach (var (line, number) in FormText.Lines(text).Select((l, i) => (l, i + 1)))
        {
            var split = line.Split('|', parts, StringSplitOptions.TrimEntries);
            if (split.Length < parts - (parts == 3 ? 1 : 0) || split.Take(2).Any(s => s.Length == 0))
            {
                Errors[field] = $"Line {number} ('{line}') should be: {shape}.";
                continue;
            }

            parsed.Add([.. split, .. Enumerable.Repeat("", parts - split.Length)]);
        }

        return parsed;
    }

    private async Task<List<Tag>> TagsAsync(CancellationToken cancellationToken)
    {
        var wanted = Form.Topics.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(t => (TagType.Topic, t))
            .Concat(Form.Source.Trim() is { Length: > 0 } source ? [(TagType.Source, source)] : []).Distinct().ToList();
        var names = wanted.Select(w => w.Item2).ToList();
        var existing = await catalogue.Tags.Where(t => names.Contains(t.Name)).ToListAsync(cancellationToken);
        var tags = new List<Tag>();
        foreach (var (type, name) in wanted)
        {
            var tag = existing.FirstOrDefault(t => t.Type == type && t.Name == name);
            if (tag is null) catalogue.Tags.Add(tag = new Tag { Type = type, Name = name });
            tags.Add(tag);
        }

        return tags;
    }

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex SlugPattern();
}

public sealed class DatasetForm
{
    public DatasetType Type { get; set; }
    public string Name { get; set; } = "";
    public string Slug { get; set; } = "";
    public string ShortDescription { get; set; } = "";
    public string Description { get; set; } = "";
    public string Publisher { get; set; } = "";
    public string Licence { get; set; } = "";
    public string Retention { get; set; } = "";
    public SecurityClassification Classification { get; set; }
    public string InformationAssetOwner { get; set; } = "";
    public string InformationAssetManager { get; set; } = "";
    public string Editors { get; set; } = "";
    public AccessType AccessType { get; set; } = AccessType.RequiresAuthorization;
    public string EmailDomains { get; set; } = "";
    public string EligibilityCriteria { get; set; } = "";
    public string Topics { get; set; } = "";
    public string Source { get; set; } = "";
    public string Tables { get; set; } = "";
    public string Links { get; set; } = "";
    public string Queries { get; set; } = "";

    public static DatasetForm From(Dataset d) => new()
    {
        Type = d.Type, Name = d.Name, Slug = d.Slug, ShortDescription = d.ShortDescription, Description = d.Description, Publisher = d.Publisher,
        Licence = d.Licence, Retention = d.Retention, Classification = d.Classification, InformationAssetOwner = d.InformationAssetOwner,
        InformationAssetManager = d.InformationAssetManager, Editors = string.Join("\n", d.Editors), AccessType = d.AccessType,
        EmailDomains = string.Join("\n", d.AuthorizedEmailDomains), EligibilityCriteria = string.Join("\n", d.EligibilityCriteria),
        Topics = string.Join(", ", d.Tags.Where(t => t.Type == TagType.Topic).Select(t => t.Name)),
        Source = d.Tags.FirstOrDefault(t => t.Type == TagType.Source)?.Name ?? "",
        Tables = string.Join("\n", d.Tables.Select(t => $"{t.Name} | {t.Schema}.{t.Table}")),
        Links = string.Join("\n", d.Links.Select(l => $"{l.Name} | {l.Url} | {l.Format}")),
        Queries = string.Join("\n", d.Queries.Select(q => $"{q.Name} | {q.Query.ReplaceLineEndings(" ")}")),
    };

    public void ApplyTo(Dataset d)
    {
        d.Type = Type;
        d.Name = Name.Trim();
        d.Slug = Slug.Trim();
        d.ShortDescription = ShortDescription.Trim();
        d.Description = Description;
        d.Publisher = Publisher.Trim();
        d.Licence = Licence.Trim();
        d.Retention = Retention.Trim();
        d.Classification = Classification;
        d.InformationAssetOwner = InformationAssetOwner.Trim();
        d.InformationAssetManager = InformationAssetManager.Trim();
        d.Editors = [.. FormText.Lines(Editors).Select(email => email.ToLowerInvariant())];
        d.AccessType = AccessType;
        d.AuthorizedEmailDomains = [.. FormText.Lines(EmailDomains).Select(x => x.TrimStart('@').ToLowerInvariant())];
        d.EligibilityCriteria = [.. FormText.Lines(EligibilityCriteria)];
    }
}
