using System.Collections.Concurrent;
using System.Text;
using System.Text.Encodings.Web;
using DataWorkspace.Web.Catalogue;
using Microsoft.AspNetCore.Html;

namespace DataWorkspace.Web.Catalogue.Pages.Datasets;

/// <summary>One facet list to render: its field name, legend and values with their counts.</summary>
public sealed record FacetList(string Name, string Legend, IReadOnlyList<FacetCount> Counts);

/// <summary>
/// The search page's facet lists, rendered once per distinct content: a list depends only on its values, counts and
/// ticks, and the same lists come back for every reader of a popular search, while rendering them is most of the
/// page's cost (figures in bench/README). Keyed by the whole content, so a hit is always exactly what rendering would
/// give.
/// </summary>
public static class RenderedOnce
{
    private const int MaxEntries = 2_000;
    private static readonly ConcurrentDictionary<string, IHtmlContent> Rendered = new(StringComparer.Ordinal);

    public static IHtmlContent Facets(FacetList list, Func<FacetList, IHtmlContent> template)
    {
        var key = new StringBuilder("facets\u001f").Append(list.Name).Append('\u001f').Append(list.Legend);
        foreach (var facet in list.Counts)
            key.Append('\u001e').Append(facet.Value).Append('\u001d').Append(facet.Label).Append('\u001d').Append(facet.Count).Append(facet.Selected ? "+" : "-");
        return Of(key.ToString(), list, template);
    }

    private static IHtmlContent Of<T>(string key, T model, Func<T, IHtmlContent> template)
    {
        if (Rendered.TryGetValue(key, out var html)) return html;
        using var writer = new StringWriter();
        template(model).WriteTo(writer, HtmlEncoder.Default);
        html = new HtmlString(writer.ToString());
        if (Rendered.Count >= MaxEntries) Rendered.Clear();
        Rendered[key] = html;
        return html;
    }
}
