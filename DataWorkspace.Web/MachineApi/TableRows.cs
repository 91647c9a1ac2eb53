using System.Data;
using System.Reflection;
using System.Text.Json;
using DataWorkspace.Web.Catalogue;
using Microsoft.AspNetCore.Http.Metadata;
using Npgsql;

namespace DataWorkspace.Web.MachineApi;

/// <summary>The JSON shape of one page of a table's rows (documented in OpenAPI; written by <see cref="TableRowsResult"/>).</summary>
public sealed record TableRowsPage(IReadOnlyList<TableRowsColumn> Columns, IReadOnlyList<object?[]> Rows, int Page, int PageSize, string? Next);

public sealed record TableRowsColumn(string Name, string DataType);

/// <summary>
/// Streams one page of a source table as JSON straight from the database reader to the response, so memory stays flat
/// whatever the page size. Rows are ordered by every orderable column, so pages are stable between requests.
/// It says it writes a <see cref="TableRowsPage"/>, for the OpenAPI document.
/// </summary>
public sealed class TableRowsResult(NpgsqlDataSource datasets, SourceTable table, IReadOnlyList<TableColumn> columns, int page, int pageSize, string nextPageUrl)
    : IResult, IEndpointMetadataProvider
{
    private const int FlushEveryRows = 500;

    // Types without a default btree ordering; ordering by them would fail.
    private static readonly HashSet<string> Unorderable = ["json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"];

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var cancellationToken = httpContext.RequestAborted;
        var orderBy = columns.Select((column, index) => (column, index))
            .Where(c => !Unorderable.Contains(c.column.DataType))
            .Select(c => (c.index + 1).ToString(System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        var sql = $"SELECT * FROM {DatasetsDatabase.Quote(table.Schema)}.{DatasetsDatabase.Quote(table.Table)}"
            + (orderBy.Count > 0 ? " ORDER BY " + string.Join(", ", orderBy) : "")
            + " LIMIT $1 OFFSET $2";

        await using var command = datasets.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = (long)pageSize + 1 });
        command.Parameters.Add(new NpgsqlParameter { Value = (long)(page - 1) * pageSize });
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken);

        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(httpContext.Response.BodyWriter);
        json.WriteStartObject();
        json.WriteStartArray("columns");
        foreach (var column in columns)
        {
            json.WriteStartObject();
            json.WriteString("name", column.Name);
            json.WriteString("dataType", column.DataType);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("rows");
        var written = 0;
        var more = false;
        while (await reader.ReadAsync(cancellationToken))
        {
            if (written == pageSize)
            {
                more = true;
                break;
            }

            WriteRow(json, reader);
            if (++written % FlushEveryRows == 0) await FlushAsync(json, httpContext, cancellationToken);
        }

        json.WriteEndArray();
        json.WriteNumber("page", page);
        json.WriteNumber("pageSize", pageSize);
        if (more) json.WriteString("next", nextPageUrl);
        else json.WriteNull("next");
        json.WriteEndObject();
        await FlushAsync(json, httpContext, cancellationToken);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(TableRowsPage), ["application/json"]));

    /// <summary>Hands the written bytes to the pipe and sends them, so a large page never sits in memory.</summary>
    private static async Task FlushAsync(Utf8JsonWriter json, HttpContext httpContext, CancellationToken cancellationToken)
    {
        await json.FlushAsync(cancellationToken);
        await httpContext.Response.BodyWriter.FlushAsync(cancellationToken);
    }

    private static void WriteRow(Utf8JsonWriter json, NpgsqlDataReader reader)
    {
        json.WriteStartArray();
        for (var i = 0; i < reader.FieldCount; i++)
        {
            if (reader.IsDBNull(i))
            {
                json.WriteNullValue();
                continue;
            }

            switch (reader.GetValue(i))
            {
                case bool value: json.WriteBooleanValue(value); break;
                case short value: json.WriteNumberValue(value); break;
                case int value: json.WriteNumberValue(value); break;
                case long value: json.WriteNumberValue(value); break;
                case decimal value: json.WriteNumberValue(value); break;
                case float value when float.IsFinite(value): json.WriteNumberValue(value); break;
                case double value when double.IsFinite(value): json.WriteNumberValue(value); break;
                case DateTime value: json.WriteStringValue(value); break;
                case DateTimeOffset value: json.WriteStringValue(value); break;
                case Guid value: json.WriteStringValue(value); break;
                case var value: json.WriteStringValue(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            }
        }

        json.WriteEndArray();
    }
}
