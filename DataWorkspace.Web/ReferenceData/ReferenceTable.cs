namespace DataWorkspace.Web.ReferenceData;

public enum ReferenceColumnType
{
    Text,
    Integer,
    Decimal,
    Date,
    Boolean,
}

public sealed record ReferenceColumn(string Name, ReferenceColumnType Type, bool Required);

/// <summary>
/// The rows of a reference dataset: kept in the catalogue (edited in the admin pages or uploaded as CSV) and
/// mirrored into the datasets database as <c>reference.&lt;table&gt;</c> so it can be queried and joined like any table.
/// </summary>
public sealed class ReferenceTable
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public Guid DatasetId { get; set; }

    /// <summary>The table's name in the datasets database's <c>reference</c> schema.</summary>
    public required string TableName { get; set; }

    public List<ReferenceColumn> Columns { get; set; } = [];
    public List<ReferenceRow> Rows { get; set; } = [];
    public DateTimeOffset UpdatedAt { get; set; }

    public const string Schema = "reference";
}

/// <summary>One row: its values as text, in the order of <see cref="ReferenceTable.Columns"/>, already validated.</summary>
public sealed class ReferenceRow
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public Guid ReferenceTableId { get; set; }
    public int Position { get; set; }
    public string?[] Values { get; set; } = [];
}
