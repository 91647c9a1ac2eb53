using DataWorkspace.Web.Data;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace DataWorkspace.Web.Explorer;

public enum QueryStatus
{
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>
/// One run of a query in the Data Explorer: its text, its outcome, and where its rows wait to be paged or downloaded
/// (a table in the user's own schema, read back with the user's own login). Also the user's query history.
/// </summary>
public sealed class ExplorerQuery
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public required string UserId { get; set; }
    public required string Sql { get; set; }
    public QueryStatus Status { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public long? DurationMs { get; set; }

    /// <summary>Rows of the result (queries), or rows changed (other statements).</summary>
    public long? Total { get; set; }
    public long? RowsAffected { get; set; }

    /// <summary>Schema-qualified table that holds the rows, when the statement returned rows.</summary>
    public string? ResultTable { get; set; }

    /// <summary>The login the query ran as, and its backend, so a Cancel from any replica reaches the right query.</summary>
    public string? LoginRole { get; set; }
    public int? BackendPid { get; set; }

    public string? ErrorMessage { get; set; }
    public string? ErrorDetail { get; set; }
    public string? ErrorHint { get; set; }
    public string? ErrorCode { get; set; }
    public int? ErrorPosition { get; set; }
}

/// <summary>A query a user kept, with a title and description; shared ones are listed for every colleague.</summary>
public sealed class SavedQuery
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public required string OwnerId { get; set; }
    public required string OwnerName { get; set; }
    public required string Title { get; set; }
    public string Description { get; set; } = "";
    public required string Sql { get; set; }
    public bool Shared { get; set; }

    /// <summary>The chart drawn from its result, when one was saved with it.</summary>
    public ChartSpec? Chart { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

[CatalogueTables]
public static class ExplorerModel
{
    private static readonly JsonSerializerOptions ChartJson = new(JsonSerializerDefaults.Web);

    public static void Configure(ModelBuilder model)
    {
        model.Entity<ExplorerQuery>(query =>
        {
            query.ToTable("explorer_queries");
            query.Property(q => q.UserId).HasMaxLength(255);
            query.Property(q => q.Status).HasConversion<string>().HasMaxLength(16);
            query.Property(q => q.ResultTable).HasMaxLength(130);
            query.Property(q => q.LoginRole).HasMaxLength(63);
            query.Property(q => q.ErrorCode).HasMaxLength(5);
            query.HasIndex(q => new { q.UserId, q.StartedAt });
            query.HasIndex(q => q.FinishedAt).HasFilter("result_table IS NOT NULL");
        });

        model.Entity<SavedQuery>(saved =>
        {
            saved.ToTable("saved_queries");
            saved.Property(q => q.OwnerId).HasMaxLength(255);
            saved.Property(q => q.OwnerName).HasMaxLength(200);
            saved.Property(q => q.Title).HasMaxLength(200);
            saved.Property(q => q.Description).HasMaxLength(2000);
            saved.Property(q => q.Chart).HasColumnType("jsonb").HasConversion(
                chart => JsonSerializer.Serialize(chart, ChartJson),
                json => JsonSerializer.Deserialize<ChartSpec>(json, ChartJson),
                new ValueComparer<ChartSpec?>((a, b) => JsonSerializer.Serialize(a, ChartJson) == JsonSerializer.Serialize(b, ChartJson),
                    chart => JsonSerializer.Serialize(chart, ChartJson).GetHashCode(StringComparison.Ordinal)));
            saved.HasIndex(q => new { q.OwnerId, q.UpdatedAt });
            saved.HasIndex(q => q.Shared).HasFilter("shared");
        });
    }
}
