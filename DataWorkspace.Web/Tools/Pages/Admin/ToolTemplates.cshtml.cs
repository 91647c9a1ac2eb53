using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tools.Pages.Admin;

/// <summary>
/// The tools and visualisations users may launch: every template (those declared in configuration are read-only
/// here), and a form to add one or change one kept in the catalogue. The form is checked by the same rules as
/// configuration.
/// </summary>
public sealed class ToolTemplatesModel(CatalogueDbContext catalogue, ToolTemplates templates, AuditLog audit, TimeProvider time) : PageModel
{
    public IReadOnlyList<ToolTemplate> Templates { get; private set; } = [];
    public TemplateForm Form { get; private set; } = new();
    /// <summary>What is wrong with the form: the id of the field each is about (empty when none), and the problem.</summary>
    public List<KeyValuePair<string, string>> Problems { get; private set; } = [];
    public string? Message { get; private set; }

    public sealed class TemplateForm
    {
        public Guid? Id { get; set; }
        public string Name { get; set; } = "";
        public string HostBasename { get; set; } = "";
        public ToolKind Kind { get; set; }
        public string Description { get; set; } = "";
        public string? Image { get; set; }
        /// <summary>One argument per line.</summary>
        public string Command { get; set; } = "";
        public int Port { get; set; } = 8888;
        /// <summary>Comma-separated.</summary>
        public string Ports { get; set; } = "";
        /// <summary>NAME=value per line.</summary>
        public string Environment { get; set; } = "";
        public string DefaultSize { get; set; } = ToolSizes.Default.Name;
        public WrapMode Wrap { get; set; }
        public bool Visible { get; set; } = true;
        public int? IdleMinutes { get; set; }
        public string? CatalogueSlug { get; set; }
        public string? TeamSlug { get; set; }
    }

    public async Task OnGetAsync(string? edit, string? message, CancellationToken cancellationToken)
    {
        Message = message;
        Templates = await templates.AllAsync(cancellationToken);
        if (edit is not null && Templates.FirstOrDefault(t => t.HostBasename == edit && !t.FromConfiguration) is { } template)
            Form = new()
            {
                Id = template.Id, Name = template.Name, HostBasename = template.HostBasename, Kind = template.Kind, Description = template.Description,
                Image = template.Image, Command = string.Join('\n', template.Command), Port = template.Port, Ports = string.Join(", ", template.Ports),
                Environment = string.Join('\n', template.Environment.Select(e => $"{e.Key}={e.Value}")), DefaultSize = template.DefaultSize,
                Wrap = template.Wrap, Visible = template.Visible, IdleMinutes = template.IdleTimeout is { } idle ? (int)idle.TotalMinutes : null,
                CatalogueSlug = template.CatalogueSlug, TeamSlug = template.TeamSlug,
            };
    }

    public async Task<IActionResult> OnPostSaveAsync([FromForm] TemplateForm form, CancellationToken cancellationToken)
    {
        Form = form;
        var options = new ToolTemplateOptions
        {
            Name = form.Name.Trim(), HostBasename = form.HostBasename.Trim().ToLowerInvariant(), Kind = form.Kind, Description = form.Description.Trim(),
            Image = form.Image?.Trim(), Command = [.. Lines(form.Command)], Port = form.Port, DefaultSize = form.DefaultSize, Wrap = form.Wrap,
            Visible = form.Visible, IdleTimeout = form.IdleMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : null,
            CatalogueSlug = form.CatalogueSlug?.Trim(), TeamSlug = form.TeamSlug?.Trim(),
        };
        foreach (var port in form.Ports.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(port, out var number)) options.Ports.Add(number);
            else Problems.Add(new(nameof(TemplateForm.Ports), $"Ports: '{port}' is not a port number."));
        foreach (var line in Lines(form.Environment))
            if (line.IndexOf('=') is > 0 and var equals) options.Environment[line[..equals].Trim()] = line[(equals + 1)..];
            else Problems.Add(new(nameof(TemplateForm.Environment), $"Environment: '{line}' is not NAME=value."));
        Problems.AddRange(options.Problems().Select(problem => KeyValuePair.Create(FieldOf(problem), problem)));

        var all = await templates.AllAsync(cancellationToken);
        if (all.FirstOrDefault(t => t.HostBasename == options.HostBasename && t.Id != form.Id) is { } taken)
            Problems.Add(new(nameof(TemplateForm.HostBasename), $"The host basename '{options.HostBasename}' is already {taken.Name}'s{(taken.FromConfiguration ? " (declared in configuration)" : "")}."));
        var stored = form.Id is { } id ? await catalogue.Set<ToolTemplate>().FirstOrDefaultAsync(t => t.Id == id, cancellationToken) : null;
        if (form.Id is not null && stored is null) Problems.Add(new("", "That template no longer exists (or is declared in configuration, which this page cannot change)."));
        if (Problems.Count > 0)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            Templates = all;
            return Page();
        }

        var template = options.ToTemplate();
        if (stored is null)
        {
            stored = template;
            stored.Id = Guid.NewGuid();
            stored.FromConfiguration = false;
            stored.CreatedAt = time.GetUtcNow();
            catalogue.Add(stored);
        }
        else
        {
            (stored.Name, stored.HostBasename, stored.Kind, stored.Description, stored.Image, stored.Command, stored.Port, stored.Ports, stored.Environment,
                stored.DefaultSize, stored.Wrap, stored.Visible, stored.IdleTimeout, stored.CatalogueSlug, stored.TeamSlug) =
                (template.Name, template.HostBasename, template.Kind, template.Description, template.Image, template.Command, template.Port, template.Ports,
                    template.Environment, template.DefaultSize, template.Wrap, template.Visible, template.IdleTimeout, template.CatalogueSlug, template.TeamSlug);
        }

        audit.Add(AuditActions.ToolTemplateChanged, Actor.Of(User), $"Tool template {template.Name} ({template.HostBasename}) {(form.Id is null ? "added" : "changed")}");
        await catalogue.SaveChangesAsync(cancellationToken);
        return Redirect($"/admin/tool-templates?message={Uri.EscapeDataString($"{template.Name} saved.")}");
    }

    private static IEnumerable<string> Lines(string text) =>
        text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The first problem with a field, shown beside it.</summary>
    public string? ProblemWith(string field) => Problems.FirstOrDefault(problem => problem.Key == field).Value;

    /// <summary>The form's field a configuration rule's message is about: the rules name the settings, which the fields are named after.</summary>
    private static string FieldOf(string problem) => problem switch
    {
        _ when problem.Contains(nameof(ToolTemplateOptions.IdleTimeout), StringComparison.Ordinal) => nameof(TemplateForm.IdleMinutes),
        _ when problem.Contains(nameof(ToolTemplateOptions.CatalogueSlug), StringComparison.Ordinal) => nameof(TemplateForm.CatalogueSlug),
        _ when problem.Contains(nameof(ToolTemplateOptions.DefaultSize), StringComparison.Ordinal) => nameof(TemplateForm.DefaultSize),
        _ when problem.StartsWith("Ports:", StringComparison.Ordinal) => nameof(TemplateForm.Ports),
        _ when problem.StartsWith("Port ", StringComparison.Ordinal) => nameof(TemplateForm.Port),
        _ when problem.StartsWith("Name ", StringComparison.Ordinal) => nameof(TemplateForm.Name),
        _ when problem.Contains("Command", StringComparison.Ordinal) => nameof(TemplateForm.Command),
        _ when problem.Contains(nameof(ToolTemplateOptions.HostBasename), StringComparison.OrdinalIgnoreCase) || problem.Contains("basename", StringComparison.OrdinalIgnoreCase) => nameof(TemplateForm.HostBasename),
        _ => "",
    };
}
