using System.Text;
using System.Text.RegularExpressions;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.ReferenceData;
using DataWorkspace.Web.Text;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.ReferenceData.Pages.Admin;

/// <summary>A reference dataset's rows: define its columns once, then edit rows one by one or replace them all from a CSV.</summary>
[RequestSizeLimit(ReferenceDataService.MaxRequestBytes)]
[RequestFormLimits(MultipartBodyLengthLimit = ReferenceDataService.MaxUploadBytes * 2)]
public sealed partial class ReferenceModel(CatalogueDbContext catalogue, ReferenceDataService reference, AuditLog audit) : PageModel
{
    public Dataset Dataset { get; private set; } = null!;
    public ReferenceTable? Table { get; private set; }
    /// <summary>What is wrong: the id of the field each is about (empty when none), and the problem.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Errors { get; private set; } = [];

    /// <summary>The id of the new row's first cell, where an error about a new row points.</summary>
    public const string NewRowField = "new-row-0";
    public string? Message { get; private set; }

    public async Task<IActionResult> OnGetAsync(Guid id, string? message, CancellationToken cancellationToken)
    {
        Message = message;
        return await LoadAsync(id, cancellationToken) ?? Page();
    }

    public async Task<IActionResult> OnGetCsvAsync(Guid id, CancellationToken cancellationToken)
    {
        if (await LoadAsync(id, cancellationToken) is { } stop) return stop;
        if (Table is null) return NotFound();
        var bytes = new MemoryStream();
        await using (var csv = new CsvForPeople(bytes))
        {
            await csv.RowAsync(Table.Columns.Select(c => c.Name).ToList(), cancellationToken);
            foreach (var row in Table.Rows) await csv.RowAsync(row.Values, cancellationToken);
            await csv.FinishAsync(cancellationToken);
        }

        return File(bytes.ToArray(), "text/csv", $"{Table.TableName}.csv");
    }

    public async Task<IActionResult> OnPostDefineAsync(Guid id, string? tableName, string? columns, CancellationToken cancellationToken)
    {
        if (await LoadAsync(id, cancellationToken) is { } stop) return stop;
        if (Table is not null) return Redirect($"/admin/reference/{id}");
        var errors = new List<KeyValuePair<string, string>>();
        tableName = tableName?.Trim() ?? "";
        if (!IdentifierPattern().IsMatch(tableName)) errors.Add(new("tableName", "The table name may use lower-case letters, digits and underscores, starting with a letter."));
        else if (await catalogue.ReferenceTables.AnyAsync(t => t.TableName == tableName, cancellationToken)) errors.Add(new("tableName", $"There is already a reference table called '{tableName}'."));
        else if (await reference.MirrorExistsAsync(tableName, cancellationToken))
            errors.Add(new("tableName", $"The datasets database already has a table reference.{tableName} that this page did not make; choose another name so it is not replaced."));
        var parsed = new List<ReferenceColumn>();
        foreach (var line in FormText.Lines(columns))
        {
            var parts = line.Split(':', StringSplitOptions.TrimEntries);
            if (parts.Length is < 2 or > 3 || !IdentifierPattern().IsMatch(parts[0]) || !Enum.TryParse<ReferenceColumnType>(parts[1], true, out var type)
                || (parts.Length == 3 && parts[2] != "required"))
            {
                errors.Add(new("columns", $"'{line}' should be name:type or name:type:required, with a type of {string.Join(", ", Enum.GetNames<ReferenceColumnType>().Select(n => n.ToLowerInvariant()))}."));
                continue;
            }

            parsed.Add(new ReferenceColumn(parts[0], type, parts.Length == 3));
        }

        if (parsed.Count == 0) errors.Add(new("columns", "Define at least one column."));
        if (parsed.GroupBy(c => c.Name).Any(g => g.Count() > 1)) errors.Add(new("columns", "Each column needs its own name."));
        if (errors.Count > 0) return Refuse(errors);

        var table = new ReferenceTable { DatasetId = Dataset.Id, TableName = tableName, Columns = parsed };
        catalogue.ReferenceTables.Add(table);
        var tracked = await catalogue.Datasets.Include(d => d.Tables).FirstAsync(d => d.Id == Dataset.Id, cancellationToken);
        if (!tracked.Tables.Any(t => t.Schema == ReferenceTable.Schema && t.Table == tableName))
            catalogue.Add(new SourceTable { DatasetId = tracked.Id, Name = tracked.Name, Schema = ReferenceTable.Schema, Table = tableName });
        var actor = Actor.Of(User);
        audit.Add(AuditActions.ReferenceDataChanged, actor, $"{actor.Email} defined the reference table {ReferenceTable.Schema}.{tableName} for '{Dataset.Name}'", Dataset.Id);
        await catalogue.SaveChangesAsync(cancellationToken);
        await reference.MirrorAsync(table, cancellationToken);
        return Redirect($"/admin/reference/{id}");
    }

    public async Task<IActionResult> OnPostUploadAsync(Guid id, IFormFile? file, CancellationToken cancellationToken)
    {
        if (await LoadAsync(id, cancellationToken) is { } stop) return stop;
        if (Table is null) return Redirect($"/admin/reference/{id}");
        if (file is null || file.Length == 0) return Refuse("file", ["Choose a CSV file to upload."]);
        if (file.Length > ReferenceDataService.MaxUploadBytes)
            return Refuse("file", [$"The file is {file.Length / 1024.0 / 1024.0:0.0} MB; reference data uploads are limited to {ReferenceDataService.MaxUploadBytes / 1024 / 1024} MB."]);

        string csv;
        using (var reader = new StreamReader(file.OpenReadStream(), new UTF8Encoding(false, throwOnInvalidBytes: true)))
        {
            try
            {
                csv = await reader.ReadToEndAsync(cancellationToken);
            }
            catch (DecoderFallbackException)
            {
                return Refuse("file", ["The file is not UTF-8 text. Save it as 'CSV UTF-8' and upload it again."]);
            }
        }

        var change = await reference.ReplaceFromCsvAsync(Table, Dataset, csv, User, cancellationToken);
        return change.Done ? Redirect($"/admin/reference/{id}?message={Uri.EscapeDataString($"Uploaded {file.FileName}: the table now has {Table.Rows.Count:N0} rows.")}") : Refuse("file", change.Errors);
    }

    public async Task<IActionResult> OnPostAddRowAsync(Guid id, string?[] values, CancellationToken cancellationToken)
    {
        if (await LoadAsync(id, cancellationToken) is { } stop) return stop;
        if (Table is null) return Redirect($"/admin/reference/{id}");
        var change = await reference.AddRowAsync(Table, Dataset, values, User, cancellationToken);
        return change.Done ? Redirect($"/admin/reference/{id}?message=Row+added.") : Refuse(NewRowField, change.Errors);
    }

    public async Task<IActionResult> OnPostDeleteRowAsync(Guid id, Guid row, CancellationToken cancellationToken)
    {
        if (await LoadAsync(id, cancellationToken) is { } stop) return stop;
        if (Table is null) return Redirect($"/admin/reference/{id}");
        var change = await reference.DeleteRowAsync(Table, Dataset, row, User, cancellationToken);
        return change.Done ? Redirect($"/admin/reference/{id}?message=Row+deleted.") : Refuse("", change.Errors);
    }

    /// <summary>The problems with one field, as its error message says them.</summary>
    public string? ErrorsAbout(string field) => Errors.Count(error => error.Key == field) switch
    {
        0 => null,
        1 => Errors.First(error => error.Key == field).Value,
        var count => $"There are {count} problems with this, listed at the top of the page.",
    };

    private PageResult Refuse(string field, IEnumerable<string> errors) => Refuse([.. errors.Select(error => KeyValuePair.Create(field, error))]);

    private PageResult Refuse(IReadOnlyList<KeyValuePair<string, string>> errors)
    {
        Errors = errors;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }

    private async Task<IActionResult?> LoadAsync(Guid id, CancellationToken cancellationToken)
    {
        var dataset = await catalogue.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id && d.DeletedAt == null, cancellationToken);
        if (dataset is null) return NotFound();
        Dataset = dataset;
        Table = await reference.FindAsync(id, cancellationToken);
        return null;
    }

    [GeneratedRegex("^[a-z][a-z0-9_]{0,62}$")]
    private static partial Regex IdentifierPattern();
}
