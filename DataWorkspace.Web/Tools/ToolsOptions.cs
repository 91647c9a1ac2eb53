using System.ComponentModel.DataAnnotations;

namespace DataWorkspace.Web.Tools;

/// <summary>How tools run: which launcher, templates declared by the operator, and when idle tools are stopped.</summary>
public sealed class ToolsOptions : IValidatableObject
{
    public const string Section = "Tools";

    /// <summary><c>Local</c> (tools run as processes of this machine) or <c>Ecs</c> (Fargate tasks).</summary>
    [Required]
    [RegularExpression("^(Local|Ecs)$", ErrorMessage = "Tools:Launcher must be Local or Ecs.")]
    public string Launcher { get; set; } = "Local";

    /// <summary>Templates declared in configuration (environment variables work too: <c>Tools__Templates__0__Name</c>).</summary>
    public List<ToolTemplateOptions> Templates { get; set; } = [];

    /// <summary>A tool with no proxied traffic for this long is stopped.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromHours(2);

    /// <summary>How often instances are checked for idleness and age.</summary>
    public TimeSpan CullInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>No tool runs longer than this, busy or not (its database login is kept valid until then, and no longer).</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>A spawn that has not answered by then is stopped and reported as failed.</summary>
    public TimeSpan SpawnTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Where the Local launcher gives each tool a working directory (its home folder).</summary>
    public string LocalWorkDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "dataworkspace-tools");

    /// <summary>The sidecars build (<c>dataworkspace-sidecar.dll</c>) the Local launcher runs beside each tool; none when unset.</summary>
    public string? LocalSidecars { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (IdleTimeout <= TimeSpan.Zero) yield return new("Tools:IdleTimeout must be positive, e.g. 02:00:00.");
        if (CullInterval <= TimeSpan.Zero) yield return new("Tools:CullInterval must be positive, e.g. 00:01:00.");
        if (MaxLifetime <= TimeSpan.Zero) yield return new("Tools:MaxLifetime must be positive, e.g. 7.00:00:00.");
        if (SpawnTimeout <= TimeSpan.Zero) yield return new("Tools:SpawnTimeout must be positive, e.g. 00:05:00.");
        for (var i = 0; i < Templates.Count; i++)
            foreach (var problem in Templates[i].Problems())
                yield return new($"Tools:Templates:{i} ({Templates[i].Name}): {problem}");
        foreach (var duplicate in Templates.GroupBy(t => t.HostBasename, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
            yield return new($"Tools:Templates: the host basename '{duplicate.Key}' is used by more than one template.");
    }
}

public sealed class ToolTemplateOptions
{
    public string Name { get; set; } = "";
    public string HostBasename { get; set; } = "";
    public ToolKind Kind { get; set; } = ToolKind.Tool;
    public string Description { get; set; } = "";
    public string? Image { get; set; }
    public List<string> Command { get; set; } = [];
    public int Port { get; set; } = 8888;

    /// <summary>Other ports of the tool its user may reach at <c>&lt;host&gt;--&lt;port&gt;</c>.</summary>
    public List<int> Ports { get; set; } = [];

    public Dictionary<string, string> Environment { get; set; } = [];
    public string DefaultSize { get; set; } = ToolSizes.Default.Name;
    public WrapMode Wrap { get; set; }
    public bool Visible { get; set; } = true;

    /// <summary>This tool's own idle timeout (e.g. 00:30:00), instead of <c>Tools:IdleTimeout</c>.</summary>
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>A visualisation's catalogue entry (slug), whose access rules say who may open it.</summary>
    public string? CatalogueSlug { get; set; }

    /// <summary>The team (slug) that develops a visualisation.</summary>
    public string? TeamSlug { get; set; }

    public IEnumerable<string> Problems()
    {
        if (IdleTimeout is { } idle && idle <= TimeSpan.Zero) yield return "IdleTimeout must be positive, e.g. 00:30:00.";
        if (Kind == ToolKind.Visualisation && DataWorkspace.Contracts.ToolHostName.LooksLikeUserTool(HostBasename ?? ""))
            yield return $"a visualisation's HostBasename ('{HostBasename}') may not end in a hyphen and eight hex digits: its address would read as a user's tool.";
        if (Kind == ToolKind.Visualisation && string.IsNullOrWhiteSpace(CatalogueSlug))
            yield return "a visualisation needs CatalogueSlug: the catalogue entry whose access rules say who may open it.";
        if (string.IsNullOrWhiteSpace(Name)) yield return "Name is required.";
        if (ToolHosts.BasenameProblem(HostBasename) is { } problem) yield return problem;
        if (Port is < 1 or > 65535) yield return $"Port {Port} is outside 1-65535.";
        foreach (var port in Ports.Where(p => p is < 1 or > 65535)) yield return $"Ports: {port} is outside 1-65535.";
        if (ToolSizes.Find(DefaultSize) is null) yield return $"DefaultSize '{DefaultSize}' is not one of {string.Join(", ", ToolSizes.All.Select(s => s.Name))}.";
        if (Command.Count == 0 && string.IsNullOrWhiteSpace(Image)) yield return "give a Command (Local launcher) or an Image (ECS launcher), or both.";
    }

    public ToolTemplate ToTemplate() => new()
    {
        Id = Guid.Empty,
        Name = Name,
        HostBasename = HostBasename.ToLowerInvariant(),
        Kind = Kind,
        Description = Description,
        Image = string.IsNullOrWhiteSpace(Image) ? null : Image,
        Command = [.. Command],
        Port = Port,
        Ports = [.. Ports.Distinct()],
        Environment = new(Environment),
        DefaultSize = ToolSizes.Find(DefaultSize)?.Name ?? ToolSizes.Default.Name,
        Wrap = Wrap,
        Visible = Visible,
        IdleTimeout = IdleTimeout,
        CatalogueSlug = string.IsNullOrWhiteSpace(CatalogueSlug) ? null : CatalogueSlug,
        TeamSlug = string.IsNullOrWhiteSpace(TeamSlug) ? null : TeamSlug,
        FromConfiguration = true,
    };
}
