using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Html;
using Microsoft.AspNetCore.Mvc.Rendering;
using Microsoft.AspNetCore.Mvc.ViewFeatures;
using Microsoft.AspNetCore.Razor.TagHelpers;

namespace DataWorkspace.Web.Forms;

/// <summary>
/// A GOV.UK form group around one field: <c>&lt;govuk-field for="Reason" label="Your reason" hint="…" error="…"&gt;</c>
/// then the field itself (input, textarea or select with that id). The label, hint and error message come first, the
/// error message with its visually hidden "Error:" prefix; the field is described by the hint and the error, and the
/// group and the field carry GOV.UK's error classes.
/// </summary>
[HtmlTargetElement("govuk-field")]
public sealed class FieldTagHelper : TagHelper
{
    /// <summary>The id of the field inside, which the label points at and the error summary links to.</summary>
    public required string For { get; set; }

    public required string Label { get; set; }

    /// <summary>Extra classes for the label, such as govuk-label--s or govuk-visually-hidden.</summary>
    public string? LabelClass { get; set; }

    public string? Hint { get; set; }

    /// <summary>A hint with markup of its own (code, links), in place of <see cref="Hint"/>.</summary>
    public IHtmlContent? HintHtml { get; set; }

    public string? Error { get; set; }

    public override async Task ProcessAsync(TagHelperContext context, TagHelperOutput output)
    {
        var hint = FormMarkup.HintOf(Hint, HintHtml);
        var error = FormMarkup.Given(Error);
        var describedBy = FormMarkup.DescribedBy(For, hint, error);
        context.Items[typeof(FieldTagHelper)] = new DescribedField(For, describedBy, error is not null);
        var field = await output.GetChildContentAsync();

        FormMarkup.Group(output, error is not null);
        output.Content.AppendHtml($"<label class=\"govuk-label{FormMarkup.Classes(LabelClass)}\" for=\"{FormMarkup.Encode(For)}\">{FormMarkup.Encode(Label)}</label>");
        FormMarkup.HintAndError(output, For, hint, error);
        output.Content.AppendHtml(field);
    }
}

/// <summary>
/// A GOV.UK form group around a fieldset of radios or checkboxes: <c>&lt;govuk-fieldset for="Months" legend="…"&gt;</c>,
/// where <c>for</c> is the id of the first choice (the error summary links to it). The fieldset is described by the
/// hint and the error.
/// </summary>
[HtmlTargetElement("govuk-fieldset")]
public sealed class FieldsetTagHelper : TagHelper
{
    public required string For { get; set; }

    public required string Legend { get; set; }

    /// <summary>Extra classes for the legend, such as govuk-fieldset__legend--s.</summary>
    public string? LegendClass { get; set; }

    /// <summary>The legend is the page's heading (an h1 inside it), as GOV.UK does for a page with one question.</summary>
    public bool LegendIsHeading { get; set; }

    public string? Hint { get; set; }

    public IHtmlContent? HintHtml { get; set; }

    public string? Error { get; set; }

    public override async Task ProcessAsync(TagHelperContext context, TagHelperOutput output)
    {
        var choices = await output.GetChildContentAsync();
        var hint = FormMarkup.HintOf(Hint, HintHtml);
        var error = FormMarkup.Given(Error);
        var describedBy = FormMarkup.DescribedBy(For, hint, error);
        var legend = LegendIsHeading ? $"<h1 class=\"govuk-fieldset__heading\">{FormMarkup.Encode(Legend)}</h1>" : FormMarkup.Encode(Legend);

        FormMarkup.Group(output, error is not null);
        output.Content.AppendHtml($"<fieldset class=\"govuk-fieldset\"{(describedBy is null ? "" : $" aria-describedby=\"{describedBy}\"")}>");
        output.Content.AppendHtml($"<legend class=\"govuk-fieldset__legend{FormMarkup.Classes(LegendClass)}\">{legend}</legend>");
        FormMarkup.HintAndError(output, For, hint, error);
        output.Content.AppendHtml(choices);
        output.Content.AppendHtml("</fieldset>");
    }
}

/// <summary>
/// The field directly inside a <see cref="FieldTagHelper"/>: described by its hint and error, and marked when in error.
/// Only direct children, so the rest of the app's inputs are left to themselves.
/// </summary>
[HtmlTargetElement("input", ParentTag = "govuk-field")]
[HtmlTargetElement("textarea", ParentTag = "govuk-field")]
[HtmlTargetElement("select", ParentTag = "govuk-field")]
public sealed class DescribedFieldTagHelper : TagHelper
{
    public override void Process(TagHelperContext context, TagHelperOutput output)
    {
        if (!context.Items.TryGetValue(typeof(FieldTagHelper), out var item) || item is not DescribedField field) return;
        if (!output.Attributes.TryGetAttribute("id", out var id) || id.Value?.ToString() != field.Id) return;

        if (field.DescribedBy is not null)
        {
            var existing = output.Attributes.TryGetAttribute("aria-describedby", out var before) ? before.Value?.ToString() + " " : "";
            output.Attributes.SetAttribute("aria-describedby", existing + field.DescribedBy);
        }

        if (field.InError && output.Attributes.TryGetAttribute("class", out var classes))
        {
            var names = classes.Value?.ToString()?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
            var block = names.FirstOrDefault(name => name is "govuk-input" or "govuk-textarea" or "govuk-select" or "govuk-file-upload");
            if (block is not null) output.Attributes.SetAttribute("class", string.Join(' ', names.Append(block + "--error")));
        }
    }
}

/// <summary>
/// The GOV.UK error summary for a form: <c>&lt;govuk-error-summary errors="Model.Errors" /&gt;</c>, each error (the id of its
/// field → its message) a link to its field; an error with no field is listed as text. Nothing is written without
/// errors. The page's title then starts with "Error:", as GOV.UK asks.
/// </summary>
[HtmlTargetElement("govuk-error-summary", TagStructure = TagStructure.WithoutEndTag)]
public sealed class ErrorSummaryTagHelper : TagHelper
{
    /// <summary>The page's title is prefixed when this is set in its view data.</summary>
    public const string PageHasErrors = "PageHasErrors";

    public IEnumerable<KeyValuePair<string, string>>? Errors { get; set; }

    public string Title { get; set; } = "There is a problem";

    [ViewContext]
    [HtmlAttributeNotBound]
    public ViewContext? ViewContext { get; set; }

    public override void Process(TagHelperContext context, TagHelperOutput output)
    {
        var errors = (Errors ?? []).ToList();
        if (errors.Count == 0)
        {
            output.SuppressOutput();
            return;
        }

        if (ViewContext is not null) ViewContext.ViewData[PageHasErrors] = true;
        output.TagName = "div";
        output.TagMode = TagMode.StartTagAndEndTag;
        output.Attributes.SetAttribute("class", "govuk-error-summary");
        output.Attributes.SetAttribute("data-module", "govuk-error-summary");
        output.Content.AppendHtml($"<div role=\"alert\"><h2 class=\"govuk-error-summary__title\">{FormMarkup.Encode(Title)}</h2><div class=\"govuk-error-summary__body\"><ul class=\"govuk-list govuk-error-summary__list\">");
        foreach (var (field, message) in errors)
            output.Content.AppendHtml(string.IsNullOrEmpty(field)
                ? $"<li>{FormMarkup.Encode(message)}</li>"
                : $"<li><a href=\"#{FormMarkup.Encode(field)}\">{FormMarkup.Encode(message)}</a></li>");
        output.Content.AppendHtml("</ul></div></div>");
    }
}

/// <summary>What a <see cref="FieldTagHelper"/> tells the field inside it.</summary>
internal sealed record DescribedField(string Id, string? DescribedBy, bool InError);

internal static class FormMarkup
{
    public static string Encode(string text) => HtmlEncoder.Default.Encode(text);

    public static string Classes(string? extra) => string.IsNullOrWhiteSpace(extra) ? "" : " " + Encode(extra.Trim());

    /// <summary>Razor gives a string attribute written as <c>@value</c> as "" when the value is null: both mean none.</summary>
    public static string? Given(string? text) => string.IsNullOrEmpty(text) ? null : text;

    public static IHtmlContent? HintOf(string? text, IHtmlContent? html) => html ?? (Given(text) is { } hint ? new HtmlString(Encode(hint)) : null);

    public static string? DescribedBy(string id, IHtmlContent? hint, string? error)
    {
        var ids = new List<string>(2);
        if (hint is not null) ids.Add(id + "-hint");
        if (error is not null) ids.Add(id + "-error");
        return ids.Count == 0 ? null : Encode(string.Join(' ', ids));
    }

    public static void Group(TagHelperOutput output, bool inError)
    {
        output.TagName = "div";
        output.TagMode = TagMode.StartTagAndEndTag;
        var extra = output.Attributes.TryGetAttribute("class", out var given) ? " " + given.Value : "";
        output.Attributes.SetAttribute("class", "govuk-form-group" + (inError ? " govuk-form-group--error" : "") + extra);
        output.Content.Clear();
    }

    public static void HintAndError(TagHelperOutput output, string id, IHtmlContent? hint, string? error)
    {
        if (hint is not null)
        {
            output.Content.AppendHtml($"<div class=\"govuk-hint\" id=\"{Encode(id)}-hint\">");
            output.Content.AppendHtml(hint);
            output.Content.AppendHtml("</div>");
        }

        if (error is not null)
            output.Content.AppendHtml($"<p class=\"govuk-error-message\" id=\"{Encode(id)}-error\"><span class=\"govuk-visually-hidden\">Error:</span> {Encode(error)}</p>");
    }
}
