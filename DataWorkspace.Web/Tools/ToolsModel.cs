using DataWorkspace.Contracts;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tools;

public enum ToolKind
{
    /// <summary>Launched per user at <c>&lt;basename&gt;-&lt;userhash8&gt;.&lt;root&gt;</c>; only its user reaches it.</summary>
    Tool,

    /// <summary>One shared instance at <c>&lt;basename&gt;.&lt;root&gt;</c>, for the users its access allows.</summary>
    Visualisation,
}

public enum WrapMode
{
    /// <summary>The tool has the whole window at its own address.</summary>
    None,

    /// <summary>The tool runs in a full-height iframe under the portal's header.</summary>
    FullHeightIframe,
}

/// <summary>A kind of tool users can launch: what runs (an image on ECS, a command locally), on which port, with what size.</summary>
public sealed class ToolTemplate
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public required string Name { get; set; }

    /// <summary>The first label of the tool's host name: <c>jupyterlab</c> gives <c>jupyterlab-1a2b3c4d.&lt;root&gt;</c>.</summary>
    public required string HostBasename { get; set; }

    public ToolKind Kind { get; set; }
    public string Description { get; set; } = "";

    /// <summary>The container image the ECS launcher runs; null if the tool cannot run on ECS.</summary>
    public string? Image { get; set; }

    /// <summary>The command the Local launcher runs (with PORT set); empty if the tool cannot run as a local process.</summary>
    public List<string> Command { get; set; } = [];

    /// <summary>The port the tool listens on in its container (ECS); the Local launcher picks a free one and passes it as PORT.</summary>
    public int Port { get; set; } = 8888;

    /// <summary>Other ports of the tool its user may reach, at <c>&lt;host&gt;--&lt;port&gt;.&lt;root&gt;</c> (a dev server, a dashboard); no others.</summary>
    public List<int> Ports { get; set; } = [];

    public Dictionary<string, string> Environment { get; set; } = [];
    public string DefaultSize { get; set; } = ToolSizes.Default.Name;
    public WrapMode Wrap { get; set; }
    public bool Visible { get; set; } = true;

    /// <summary>A visualisation's catalogue entry (a Visualisation-type entry's slug): its access rules say who may open it.</summary>
    public string? CatalogueSlug { get; set; }

    /// <summary>The team that develops a visualisation: its members may open it and give it read access to datasets they can read.</summary>
    public string? TeamSlug { get; set; }

    /// <summary>Stops an instance after this long without proxied traffic; null means the platform's <c>Tools:IdleTimeout</c>.</summary>
    public TimeSpan? IdleTimeout { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Declared in configuration (<c>Tools:Templates</c>) rather than in the database: read-only in the admin pages.</summary>
    public bool FromConfiguration { get; set; }
}

/// <summary>
/// One run of a tool: for a user (tools) or shared (visualisations). At most one is active (not stopped) per host,
/// which is one per user per tool. The web app owns the record; launchers only start and stop what it says.
/// </summary>
public sealed class ToolInstance
{
    public Guid Id { get; set; } = Guid.NewGuid();

    /// <summary>The tool's host label: <c>jupyterlab-1a2b3c4d</c> for a user's tool, the basename for a visualisation.</summary>
    public required string Host { get; set; }

    public required string HostBasename { get; set; }
    public required string TemplateName { get; set; }

    /// <summary>The user the tool runs for and as; for a visualisation, the user who started it.</summary>
    public required string OwnerId { get; set; }

    public ToolInstanceState State { get; set; }
    public required string Size { get; set; }

    /// <summary>Which launcher runs it (Local, Ecs) and its handle there: a process id, a task ARN.</summary>
    public required string Launcher { get; set; }

    public string? LauncherHandle { get; set; }

    /// <summary>Where the proxy forwards to, e.g. <c>http://127.0.0.1:41234</c>; null until known.</summary>
    public string? Address { get; set; }

    /// <summary>What the spawn is doing now, for the progress page; null once it runs or stopped.</summary>
    public ToolStage? Stage { get; set; }

    /// <summary>The short-lived database login the tool was given; retired when the tool stops.</summary>
    public string? LoginRole { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RunningAt { get; set; }
    public DateTimeOffset? StoppedAt { get; set; }
    public DateTimeOffset LastActivityAt { get; set; }
    /// <summary>Why it stopped, for code; <see cref="StopReason"/> says it in words for people.</summary>
    public ToolStopCause? StopCause { get; set; }

    public string? StopReason { get; set; }

    /// <summary>Why the spawn failed, in words for the user; the instance is then stopped.</summary>
    public string? Error { get; set; }
}

/// <summary>A dataset a visualisation may read (with its own database login), given by one of its developers who can read it.</summary>
public sealed class VisualisationDataset
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public required string HostBasename { get; set; }
    public Guid DatasetId { get; set; }
    public required string GrantedBy { get; set; }
    public DateTimeOffset GrantedAt { get; set; }
}

[CatalogueTables]
public static class ToolsModel
{
    public static void Configure(ModelBuilder model)
    {
        model.Entity<ToolTemplate>(template =>
        {
            template.ToTable("tool_templates");
            template.Property(t => t.Name).HasMaxLength(100);
            template.Property(t => t.HostBasename).HasMaxLength(40);
            template.Property(t => t.Kind).HasConversion<string>().HasMaxLength(16);
            template.Property(t => t.Wrap).HasConversion<string>().HasMaxLength(24);
            template.Property(t => t.Image).HasMaxLength(500);
            template.Property(t => t.DefaultSize).HasMaxLength(8);
            template.Property(t => t.Environment).HasColumnType("jsonb").HasConversion(
                environment => System.Text.Json.JsonSerializer.Serialize(environment, (System.Text.Json.JsonSerializerOptions?)null),
                json => System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(json, (System.Text.Json.JsonSerializerOptions?)null) ?? new(),
                new Microsoft.EntityFrameworkCore.ChangeTracking.ValueComparer<Dictionary<string, string>>(
                    (a, b) => a != null && b != null && a.Count == b.Count && !a.Except(b).Any(),
                    environment => environment.Aggregate(0, (hash, pair) => HashCode.Combine(hash, pair.Key, pair.Value)),
                    environment => new Dictionary<string, string>(environment)));
            template.Ignore(t => t.FromConfiguration);
            template.Property(t => t.CatalogueSlug).HasMaxLength(255);
            template.Property(t => t.TeamSlug).HasMaxLength(40);
            template.HasIndex(t => t.HostBasename).IsUnique();
        });

        model.Entity<VisualisationDataset>(grant =>
        {
            grant.ToTable("visualisation_datasets");
            grant.Property(g => g.HostBasename).HasMaxLength(40);
            grant.Property(g => g.GrantedBy).HasMaxLength(255);
            grant.HasIndex(g => new { g.HostBasename, g.DatasetId }).IsUnique();
        });

        model.Entity<ToolInstance>(instance =>
        {
            instance.ToTable("tool_instances");
            instance.Property(i => i.Host).HasMaxLength(63);
            instance.Property(i => i.HostBasename).HasMaxLength(40);
            instance.Property(i => i.TemplateName).HasMaxLength(100);
            instance.Property(i => i.OwnerId).HasMaxLength(255);
            instance.Property(i => i.State).HasConversion<string>().HasMaxLength(16);
            instance.Property(i => i.Size).HasMaxLength(8);
            instance.Property(i => i.Launcher).HasMaxLength(16);
            instance.Property(i => i.LauncherHandle).HasMaxLength(2048);
            instance.Property(i => i.Address).HasMaxLength(200);
            instance.Property(i => i.Stage).HasConversion<string>().HasMaxLength(100);
            instance.Property(i => i.StopCause).HasConversion<string>().HasMaxLength(24);
            instance.Property(i => i.LoginRole).HasMaxLength(63);
            instance.Property(i => i.StopReason).HasMaxLength(500);
            instance.Property(i => i.Error).HasMaxLength(2000);
            // The database itself keeps "one active instance per host": two spawns racing cannot both win.
            instance.HasIndex(i => i.Host).IsUnique().HasFilter("state <> 'Stopped'").HasDatabaseName("ux_tool_instances_active_host");
            instance.HasIndex(i => new { i.OwnerId, i.CreatedAt });
            instance.HasIndex(i => i.State).HasFilter("state <> 'Stopped'");
        });
    }
}
