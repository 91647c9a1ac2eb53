using System.Diagnostics;

namespace DataWorkspace.Web.AccessRequests;

/// <summary>The HTTP status each kind of access refusal is answered with: the one place the pages that show access outcomes take it from.</summary>
public static class AccessRefusalStatus
{
    public static int StatusCode(this AccessRefusal refusal) => refusal switch
    {
        AccessRefusal.Conflict => StatusCodes.Status409Conflict,
        AccessRefusal.Invalid => StatusCodes.Status400BadRequest,
        AccessRefusal.NotAllowed => StatusCodes.Status403Forbidden,
        AccessRefusal.NotFound => StatusCodes.Status404NotFound,
        _ => throw new UnreachableException($"No HTTP status for the access refusal {refusal}."),
    };
}
