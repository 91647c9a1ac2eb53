using DataWorkspace.Proxy.SignIn;

namespace DataWorkspace.Proxy.Tests;

/// <summary>What a proxy replica knows of deactivations: notices, and the web app's answers, whichever is newer.</summary>
public sealed class DeactivatedUsersTests
{
    private static readonly HashSet<string> None = [];

    [Fact]
    public void A_deactivation_notice_counts_until_a_reactivation_notice()
    {
        var users = new DeactivatedUsers(TimeProvider.System);

        users.Deactivated("alex");
        var deactivated = users.Contains("alex");
        users.Reactivated("alex");

        Assert.True(deactivated);
        Assert.False(users.Contains("alex"));
        Assert.Empty(users.All);
    }

    [Fact]
    public void An_answer_to_a_question_asked_before_a_notice_does_not_undo_the_notice()
    {
        var users = new DeactivatedUsers(TimeProvider.System);
        var askedBeforeDeactivation = users.Mark();
        users.Deactivated("alex");
        users.Deactivated("sam");
        var askedBeforeReactivation = users.Mark();
        users.Reactivated("sam");

        users.Answered(["alex"], None, askedBeforeDeactivation);
        users.Answered(["sam"], new HashSet<string> { "sam" }, askedBeforeReactivation);

        Assert.True(users.Contains("alex"));
        Assert.False(users.Contains("sam"));
    }

    [Fact]
    public void A_newer_answer_corrects_what_missed_notices_left()
    {
        var users = new DeactivatedUsers(TimeProvider.System);
        users.Deactivated("alex");

        // Alex was reactivated, and Priya deactivated, while this replica was not listening.
        users.Answered(["alex", "priya", "tom"], new HashSet<string> { "priya" }, users.Mark());

        Assert.Equal(["priya"], users.All);
    }
}
