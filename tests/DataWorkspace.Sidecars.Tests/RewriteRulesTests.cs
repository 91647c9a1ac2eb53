using DataWorkspace.Sidecars.DnsRewrite;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>dns-rewrite's rules on their own: the first match wins, and no name can make a rule give up.</summary>
public sealed class RewriteRulesTests
{
    [Fact]
    public void A_name_that_would_make_a_backtracking_pattern_explode_is_answered_unmatched_instead_of_timing_out()
    {
        // Nested quantifiers take 2^n steps on a near miss in a backtracking engine, which would have to give up on a
        // timeout; a timeout also trips on names that match while the machine is busy.
        var rules = Rules(@"^(a+)+\.internal$=>never.test", @"^(.+)\.tools\.internal$=>$1.lb.test");
        var nearMiss = new string('a', 60) + "b.internal";

        Assert.Null(rules.Rewrite(nearMiss, out var none));
        Assert.Equal(0, none);
        Assert.Equal("web.lb.test", rules.Rewrite("web.tools.internal", out var rule));
        Assert.Equal(2, rule);
    }

    [Fact]
    public void Patterns_with_lookarounds_and_backreferences_still_work()
    {
        var rules = Rules(@"^(?!admin\.)(.+)\.tools\.internal$=>$1.lb.test", @"^(\w+)-\1\.internal$=>$1.twice.test");

        Assert.Equal("web.lb.test", rules.Rewrite("web.tools.internal", out _));
        Assert.Null(rules.Rewrite("admin.tools.internal", out _));
        Assert.Equal("echo.twice.test", rules.Rewrite("echo-echo.internal", out var rule));
        Assert.Equal(2, rule);
    }

    [Fact]
    public void Matching_ignores_letter_case_and_the_first_matching_rule_wins()
    {
        var rules = Rules(@"^first\.internal$=>one.test", @"^(.+)\.internal$=>$1.two.test");

        Assert.Equal("one.test", rules.Rewrite("FIRST.internal", out var first));
        Assert.Equal(1, first);
        Assert.Equal("second.two.test", rules.Rewrite("second.internal", out var second));
        Assert.Equal(2, second);
    }

    private static RewriteRules Rules(params string[] texts) =>
        new([.. texts.Select(text => RewriteRule.Parse(text, out var problem) ?? throw new InvalidOperationException(problem))]);
}
