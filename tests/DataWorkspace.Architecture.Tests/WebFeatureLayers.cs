using System.Text.RegularExpressions;
using ArchUnitNET.Domain;
using ArchUnitNET.Loader;

namespace DataWorkspace.Architecture.Tests;

/// <summary>
/// The web app's folders are features stacked in layers. A feature uses features of its own layer and of lower ones,
/// never of a higher one, and no features use each other in a loop. Where a lower feature needs something done by a
/// higher one, it owns an interface that the higher one implements.
/// </summary>
public sealed partial class WebFeatureLayers
{
    private const string WebProject = "DataWorkspace.Web";
    private const string WebNamespace = "DataWorkspace.Web.";

    /// <summary>The layers, lowest first, and the folders of the web app (namespaces under DataWorkspace.Web) in each.</summary>
    public static readonly IReadOnlyList<(string Layer, string[] Folders)> Layers =
    [
        ("foundations", ["Data", "Security", "Background", "Time", "Health", "Documentation", "Text", "Forms", "Portal", "Telemetry"]),
        ("people and records", ["Identity", "Users", "Audit", "Notifications", "ApiTokens"]),
        ("catalogue", ["Catalogue"]),
        ("access and storage", ["AccessRequests", "DatabaseAccess", "ToolsAccess", "ReferenceData", "Storage", "MachineApi"]),
        ("work on data", ["Tools", "Explorer", "Files"]),
        ("the app", ["Pages", "Demo", "Operations"]),
    ];

    private static readonly Lazy<ArchUnitNET.Domain.Architecture> Web = new(() =>
        new ArchLoader().LoadAssemblies(typeof(DataWorkspace.Web.Data.CatalogueDbContext).Assembly).Build());

    private static readonly Lazy<List<Use>> Uses = new(FindUses);

    /// <summary>One feature using another, and one place that shows it.</summary>
    private sealed record Use(string From, string To, string Where);

    [Fact]
    public void Every_folder_of_the_web_app_is_in_a_layer()
    {
        var placed = Layers.SelectMany(layer => layer.Folders).ToHashSet(StringComparer.Ordinal);
        var folders = Web.Value.Types.Select(type => type.Namespace?.FullName ?? "")
            .Where(name => name.StartsWith(WebNamespace, StringComparison.Ordinal)).Select(name => name[WebNamespace.Length..].Split('.')[0])
            .Concat(Sources.Files(WebProject, ".cs", ".cshtml").Where(path => path.Contains('/')).Select(path => path.Split('/')[0]))
            .ToHashSet(StringComparer.Ordinal);

        var unplaced = folders.Where(folder => !placed.Contains(folder)).Order(StringComparer.Ordinal).ToList();
        Assert.True(unplaced.Count == 0, $"Folders that are in no layer of {nameof(WebFeatureLayers)}.{nameof(Layers)}: {string.Join(", ", unplaced)}");
    }

    [Fact]
    public void No_features_use_each_other_in_a_loop()
    {
        var graph = Uses.Value.GroupBy(use => use.From).ToDictionary(from => from.Key, from => from.Select(use => use.To).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        var loops = StronglyConnected(graph).Where(component => component.Count > 1).ToList();

        var report = loops.Select(loop =>
            $"{string.Join(", ", loop.Order(StringComparer.Ordinal))} use each other:\n" + string.Join('\n',
                Uses.Value.Where(use => loop.Contains(use.From) && loop.Contains(use.To))
                    .GroupBy(use => (use.From, use.To)).OrderBy(g => g.Key.From, StringComparer.Ordinal).ThenBy(g => g.Key.To, StringComparer.Ordinal)
                    .Select(g => $"  {g.Key.From} -> {g.Key.To}: {g.First().Where}")));
        Assert.True(loops.Count == 0, string.Join("\n", report));
    }

    [Fact]
    public void Lower_layers_never_use_higher_ones()
    {
        var layerOf = Layers.SelectMany((layer, index) => layer.Folders.Select(folder => (folder, index))).ToDictionary(p => p.folder, p => p.index, StringComparer.Ordinal);
        var upward = Uses.Value
            .Where(use => layerOf.TryGetValue(use.From, out var from) && layerOf.TryGetValue(use.To, out var to) && from < to)
            .GroupBy(use => (use.From, use.To)).OrderBy(g => g.Key.From, StringComparer.Ordinal).ThenBy(g => g.Key.To, StringComparer.Ordinal)
            .Select(g => $"{g.Key.From} ({Layers[layerOf[g.Key.From]].Layer}) uses {g.Key.To} ({Layers[layerOf[g.Key.To]].Layer}): {g.First().Where}")
            .ToList();
        Assert.True(upward.Count == 0, $"{upward.Count} uses of a higher layer:\n{string.Join('\n', upward)}");
    }

    /// <summary>What the compiled code uses (types in signatures and bodies, Razor views included) and what the sources name (usings, qualified names, constants).</summary>
    private static List<Use> FindUses()
    {
        var uses = new List<Use>();
        foreach (var type in Web.Value.Types)
        {
            if (FolderOf(type) is not { } from) continue;
            foreach (var dependency in type.Dependencies)
                if (FolderOf(dependency.Target) is { } to && to != from)
                    uses.Add(new(from, to, $"{type.Name} -> {dependency.Target.Name}"));
        }

        // What each folder declares directly: its types, and its sub-namespaces' first names.
        var typesOf = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var type in Web.Value.Types)
        {
            var name = type.Namespace?.FullName ?? "";
            if (!name.StartsWith(WebNamespace, StringComparison.Ordinal)) continue;
            var parts = name[WebNamespace.Length..].Split('.');
            if (!typesOf.TryGetValue(parts[0], out var names)) typesOf[parts[0]] = names = new(StringComparer.Ordinal);
            names.Add(parts.Length == 1 ? SimpleName(type.Name) : parts[1]);
        }

        foreach (var path in Sources.Files(WebProject, ".cs", ".cshtml").Where(path => path.Contains('/')))
        {
            var from = path.Split('/')[0];
            foreach (var (number, text) in Sources.CodeLines(WebProject, path))
            {
                foreach (Match match in FullyQualified().Matches(text))
                    if (match.Groups["folder"].Value is var to && to != from && typesOf.ContainsKey(to))
                        uses.Add(new(from, to, $"{path}:{number} {match.Value}"));

                // A name qualified from DataWorkspace.Web (Tools.ToolHosts), which the compiled code may not show when it is a constant.
                foreach (Match match in RelativelyQualified().Matches(text))
                    if (match.Groups["folder"].Value is var to && to != from && typesOf.TryGetValue(to, out var names) && names.Contains(match.Groups["name"].Value))
                        uses.Add(new(from, to, $"{path}:{number} {match.Value}"));
            }
        }

        return uses;
    }

    /// <summary>The folder a type belongs to: its namespace under DataWorkspace.Web, or for a compiled Razor view the folder of its file.</summary>
    private static string? FolderOf(IType type)
    {
        var name = type.Namespace?.FullName ?? "";
        if (name.StartsWith(WebNamespace, StringComparison.Ordinal)) return name[WebNamespace.Length..].Split('.')[0];
        // Views are compiled into AspNetCoreGeneratedDocument, named after their path: Catalogue_Pages_Datasets_Index.
        if (name == "AspNetCoreGeneratedDocument" && type.Name.Split('_')[0] is { Length: > 0 } folder) return folder;
        return null;
    }

    private static string SimpleName(string name) => name.Split('`')[0];

    [GeneratedRegex(@"\bDataWorkspace\.Web\.(?<folder>\w+)")]
    private static partial Regex FullyQualified();

    [GeneratedRegex(@"(?<![\w.])(?<folder>[A-Z]\w*)\.(?<name>[A-Z]\w*)")]
    private static partial Regex RelativelyQualified();

    /// <summary>Tarjan's strongly connected components: each is a set of features that reach each other.</summary>
    private static List<HashSet<string>> StronglyConnected(Dictionary<string, HashSet<string>> graph)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var components = new List<HashSet<string>>();

        void Visit(string node)
        {
            index[node] = low[node] = index.Count;
            stack.Push(node);
            onStack.Add(node);
            foreach (var next in graph.GetValueOrDefault(node) ?? [])
            {
                if (!index.ContainsKey(next))
                {
                    Visit(next);
                    low[node] = Math.Min(low[node], low[next]);
                }
                else if (onStack.Contains(next))
                {
                    low[node] = Math.Min(low[node], index[next]);
                }
            }

            if (low[node] != index[node]) return;
            var component = new HashSet<string>(StringComparer.Ordinal);
            string member;
            do
            {
                member = stack.Pop();
                onStack.Remove(member);
                component.Add(member);
            }
            while (member != node);
            components.Add(component);
        }

        foreach (var node in graph.Keys.Order(StringComparer.Ordinal))
            if (!index.ContainsKey(node)) Visit(node);
        return components;
    }
}
