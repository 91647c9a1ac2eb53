using System.Security.Claims;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Text;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.ReferenceData;

/// <summary>The result of a change to a reference table: done, or every problem found, with nothing changed.</summary>
public sealed record ReferenceChange(bool Done, IReadOnlyList<string> Errors)
{
    public static ReferenceChange Failed(params string[] errors) => new(false, errors);
}

/// <summary>
/// Edits reference tables and mirrors them into the datasets database. A change is validated whole first: one bad row
/// and nothing is imported. The catalogue rows and the mirror's rows are replaced in one transaction each, so readers
/// see the old rows or the new ones, never half of them, and keep their access throughout (see <see cref="ReferenceMirror"/>).
/// </summary>
public sealed class ReferenceDataService(CatalogueDbContext catalogue, AuditLog audit, TimeProvider time, ReferenceMirror mirror)
{
    public const int MaxUploadBytes = 5 * 1024 * 1024;

    /// <summary>
    /// The most of a request the upload page reads, to refuse a larger form with its own message: the proxy's own limit
    /// (Kestrel's default), so that whatever the proxy lets through is read whole and answered, not cut off unread
    /// (a connection closed with a body unread is reset, and the proxy would get no answer to pass on).
    /// </summary>
    public const int MaxRequestBytes = 30_000_000;
    public const int MaxRows = 100_000;

    public Task<ReferenceTable?> FindAsync(Guid datasetId, CancellationToken cancellationToken) =>
        catalogue.ReferenceTables.Include(t => t.Rows.OrderBy(r => r.Position)).FirstOrDefaultAsync(t => t.DatasetId == datasetId, cancellationToken);

    /// <summary>Parses and checks a CSV whose header names the table's columns (in any order).</summary>
    public static (List<string?[]> Rows, List<string> Errors) Validate(ReferenceTable table, string csv)
    {
        var errors = new List<string>();
        var rows = new List<string?[]>();
        var (records, parseError) = CsvText.Parse(csv.TrimStart('\uFEFF'));
        if (parseError is not null) return (rows, [parseError]);
        if (records.Count == 0) return (rows, ["The file is empty: the first line must name the columns."]);

        var header = records[0].Fields.Select(f => f.Trim()).ToList();
        var expected = table.Columns.Select(c => c.Name).ToList();
        var missing = expected.Where(e => !header.Contains(e, StringComparer.OrdinalIgnoreCase)).ToList();
        var unknown = header.Where(h => !expected.Contains(h, StringComparer.OrdinalIgnoreCase)).ToList();
        var duplicated = header.GroupBy(h => h, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (missing.Count > 0) errors.Add($"Line 1: the columns {Names(missing)} are missing. The header must be: {string.Join(",", expected)}");
        if (unknown.Count > 0) errors.Add($"Line 1: the columns {Names(unknown)} are not in this table. The header must be: {string.Join(",", expected)}");
        if (duplicated.Count > 0) errors.Add($"Line 1: the columns {Names(duplicated)} appear more than once.");
        if (errors.Count > 0) return (rows, errors);
        if (records.Count - 1 > MaxRows) return (rows, [$"The file has {records.Count - 1:N0} rows; a reference table holds at most {MaxRows:N0}."]);

        var positions = table.Columns.Select(c => header.FindIndex(h => h.Equals(c.Name, StringComparison.OrdinalIgnoreCase))).ToArray();
        foreach (var (line, fields) in records.Skip(1))
        {
            if (fields.Count == 1 && fields[0].Length == 0) continue; // a blank line
            if (fields.Count != header.Count)
            {
                errors.Add($"Line {line}: {fields.Count} values, but the header has {header.Count} columns.");
                continue;
            }

            var (row, rowErrors) = NormaliseRow(table.Columns, positions.Select(p => (string?)fields[p]).ToArray());
            if (rowErrors.Count > 0) errors.Add($"Line {line}: {string.Join("; ", rowErrors)}.");
            else rows.Add(row);
        }

        return (rows, errors);
    }

    public static (string?[] Row, List<string> Errors) NormaliseRow(IReadOnlyList<ReferenceColumn> columns, string?[] values)
    {
        var row = new string?[columns.Count];
        var errors = new List<string>();
        for (var i = 0; i < columns.Count; i++)
        {
            var (value, error) = ReferenceValues.Normalise(columns[i], i < values.Length ? values[i] : null);
            if (error is not null) errors.Add(error);
            row[i] = value;
        }

        return (row, errors);
    }

    public async Task<ReferenceChange> ReplaceFromCsvAsync(ReferenceTable table, Dataset dataset, string csv, ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        var (rows, errors) = Validate(table, csv);
        if (errors.Count > 0) return new ReferenceChange(false, errors);
        return await SaveRowsAsync(table, dataset, rows, admin, $"uploaded a CSV of {rows.Count:N0} rows to", cancellationToken);
    }

    public async Task<ReferenceChange> AddRowAsync(ReferenceTable table, Dataset dataset, string?[] values, ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        var (row, errors) = NormaliseRow(table.Columns, values);
        if (errors.Count > 0) return new ReferenceChange(false, [$"The new row: {string.Join("; ", errors)}."]);
        return await SaveRowsAsync(table, dataset, [.. table.Rows.OrderBy(r => r.Position).Select(r => r.Values), row], admin, "added a row to", cancellationToken);
    }

    public async Task<ReferenceChange> DeleteRowAsync(ReferenceTable table, Dataset dataset, Guid rowId, ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        if (table.Rows.All(r => r.Id != rowId)) return ReferenceChange.Failed("That row is not in the table any more.");
        return await SaveRowsAsync(table, dataset, [.. table.Rows.Where(r => r.Id != rowId).OrderBy(r => r.Position).Select(r => r.Values)], admin, "deleted a row from", cancellationToken);
    }

    /// <summary>
    /// Replaces the rows in the catalogue, then the mirror's; both or neither (the catalogue transaction commits last).
    /// A mirror the datasets database refuses to change leaves both as they were, and the admin is told why.
    /// </summary>
    private async Task<ReferenceChange> SaveRowsAsync(ReferenceTable table, Dataset dataset, IReadOnlyList<string?[]> rows, ClaimsPrincipal admin, string verb, CancellationToken cancellationToken)
    {
        var (previousRows, previousUpdate) = (table.Rows, table.UpdatedAt);
        try
        {
            await catalogue.InTransactionAsync(async cancellationToken =>
            {
                await catalogue.Database.ExecuteSqlAsync($"DELETE FROM reference_rows WHERE reference_table_id = {table.Id}", cancellationToken);
                foreach (var tracked in table.Rows) catalogue.Entry(tracked).State = EntityState.Detached;
                table.Rows = [.. rows.Select((values, i) => new ReferenceRow { ReferenceTableId = table.Id, Position = i, Values = values })];
                catalogue.AddRange(table.Rows);
                table.UpdatedAt = time.GetUtcNow();
                var actor = Actor.Of(admin);
                audit.Add(AuditActions.ReferenceDataChanged, actor, $"{actor.Email} {verb} '{dataset.Name}' ({rows.Count:N0} rows now)", dataset.Id);
                await catalogue.SaveChangesAsync(cancellationToken);
                await mirror.WriteAsync(table, cancellationToken);
                return true;
            }, cancellationToken);
            return new ReferenceChange(true, []);
        }
        catch (ReferenceMirrorException exception)
        {
            catalogue.ChangeTracker.Clear();
            (table.Rows, table.UpdatedAt) = (previousRows, previousUpdate);
            return ReferenceChange.Failed(exception.Message);
        }
    }

    /// <summary>Writes <c>reference.&lt;table&gt;</c> in the datasets database from the catalogue's rows; its readers keep their access throughout.</summary>
    public Task MirrorAsync(ReferenceTable table, CancellationToken cancellationToken) => mirror.WriteAsync(table, cancellationToken);

    public Task<bool> MirrorExistsAsync(string tableName, CancellationToken cancellationToken) => mirror.ExistsAsync(tableName, cancellationToken);

    private static string Names(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));
}
