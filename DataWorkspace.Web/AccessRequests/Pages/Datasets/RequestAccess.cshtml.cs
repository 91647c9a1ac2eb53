using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.AccessRequests.Pages.Datasets;

/// <summary>
/// Asking for access, as the original's journey: confirm the eligibility criteria (or be told you do not meet them),
/// say why and for how long, check a summary, send.
/// </summary>
public sealed class RequestAccessModel(CatalogueDbContext catalogue, AccessRequestService requests) : PageModel
{
    public enum Steps { Blocked, Eligibility, NotEligible, Details, Summary }

    public Dataset Dataset { get; private set; } = null!;
    public Steps Step { get; private set; }
    public string? Message { get; private set; }
    public Dictionary<string, string> Errors { get; } = [];

    [BindProperty] public string? Reason { get; set; }
    [BindProperty] public int Months { get; set; }
    [BindProperty] public bool Eligible { get; set; }
    public DateOnly NeededUntil => requests.Today.AddMonths(Months);
    public static readonly int[] Durations = [1, 3, 6, 12];

    public async Task<IActionResult> OnGetAsync(string slug, CancellationToken cancellationToken)
    {
        if (await LoadAsync(slug, cancellationToken) is { } stop) return stop;
        Step = Dataset.EligibilityCriteria.Count > 0 ? Steps.Eligibility : Steps.Details;
        Eligible = Dataset.EligibilityCriteria.Count == 0;
        return Page();
    }

    public async Task<IActionResult> OnPostEligibilityAsync(string slug, string? meets, CancellationToken cancellationToken)
    {
        if (await LoadAsync(slug, cancellationToken) is { } stop) return stop;
        switch (meets)
        {
            case "yes":
                Eligible = true;
                Step = Steps.Details;
                break;
            case "no":
                Step = Steps.NotEligible;
                break;
            default:
                Errors["meets"] = "Select whether you meet the criteria.";
                Step = Steps.Eligibility;
                break;
        }

        return Page();
    }

    public async Task<IActionResult> OnPostDetailsAsync(string slug, CancellationToken cancellationToken)
    {
        if (await LoadAsync(slug, cancellationToken) is { } stop) return stop;
        if (!Eligible && Dataset.EligibilityCriteria.Count > 0) return RedirectToPage(new { slug });
        if (string.IsNullOrWhiteSpace(Reason)) Errors[nameof(Reason)] = "Say why you need this data: the approvers decide from it.";
        else if (Reason.Length > AccessRequestLimits.ReasonLength) Errors[nameof(Reason)] = $"Keep the reason under {AccessRequestLimits.ReasonLength} characters (it is {Reason.Length}).";
        if (!Durations.Contains(Months)) Errors[nameof(Months)] = "Choose how long you need the data.";
        Step = Errors.Count > 0 ? Steps.Details : Steps.Summary;
        return Page();
    }

    public async Task<IActionResult> OnPostConfirmAsync(string slug, CancellationToken cancellationToken)
    {
        if (await LoadAsync(slug, cancellationToken) is { } stop) return stop;
        var confirmed = Eligible ? Dataset.EligibilityCriteria : [];
        var (outcome, request) = await requests.SubmitAsync(Dataset, User, Reason, Months, confirmed, cancellationToken);
        if (outcome.Refusal is { } refusal)
        {
            Errors[nameof(Reason)] = outcome.Message;
            Step = Steps.Details;
            Response.StatusCode = refusal.StatusCode();
            return Page();
        }

        return Redirect($"/requests?sent={request!.Id}");
    }

    private async Task<IActionResult?> LoadAsync(string slug, CancellationToken cancellationToken)
    {
        var dataset = await CatalogueApi.PublishedDataset(catalogue, slug, cancellationToken);
        if (dataset is null) return NotFound();
        Dataset = dataset;
        if (await requests.CannotRequestAsync(dataset, User, cancellationToken) is { } why)
        {
            Step = Steps.Blocked;
            Message = why;
            return Page();
        }

        return null;
    }
}
