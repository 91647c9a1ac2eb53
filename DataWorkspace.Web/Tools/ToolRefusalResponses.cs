using Microsoft.AspNetCore.Http.HttpResults;

namespace DataWorkspace.Web.Tools;

/// <summary>The one mapping of a refused start to HTTP, for the APIs and the tools page.</summary>
public static class ToolRefusalResponses
{
    public static int StatusOf(ToolRefusal refusal) => refusal switch
    {
        ToolRefusal.AccountDeactivated or ToolRefusal.NoToolsAccess or ToolRefusal.NoVisualisationAccess => StatusCodes.Status403Forbidden,
        ToolRefusal.NoSuchTool => StatusCodes.Status404NotFound,
        ToolRefusal.NoSuchSize => StatusCodes.Status400BadRequest,
        ToolRefusal.CannotRunHere => StatusCodes.Status409Conflict,
        _ => throw new ArgumentOutOfRangeException(nameof(refusal), refusal, null),
    };

    public static ProblemHttpResult Problem(ToolRefusedException refused) =>
        TypedResults.Problem(title: "The tool was not started", detail: refused.Message, statusCode: StatusOf(refused.Refusal));

    /// <summary>Documents (OpenAPI) each status a refused start is answered with.</summary>
    public static RouteHandlerBuilder ProducesToolRefusals(this RouteHandlerBuilder endpoint)
    {
        foreach (var status in Enum.GetValues<ToolRefusal>().Select(StatusOf).Distinct().Order()) endpoint.ProducesProblem(status);
        return endpoint;
    }
}
