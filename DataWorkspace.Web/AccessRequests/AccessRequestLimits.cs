namespace DataWorkspace.Web.AccessRequests;

public static class AccessRequestLimits
{
    public const int ReasonLength = 2000;
    public const int CommentLength = 2000;

    /// <summary>The longest access a request may ask for; the original's users asked for "forever", which is the gap this closes.</summary>
    public const int MaxMonths = 12;
}
