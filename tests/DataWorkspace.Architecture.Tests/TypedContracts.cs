using System.Reflection;
using System.Text.RegularExpressions;

namespace DataWorkspace.Architecture.Tests;

/// <summary>
/// What the proxy and the web app tell each other is typed: states, stages and causes are enums of the shared
/// contracts, and the readable reasons are text for people, which no code branches on.
/// </summary>
public sealed partial class TypedContracts
{
    private const string ProxyProject = "DataWorkspace.Proxy";

    [Fact]
    public void States_stages_and_causes_between_proxy_and_web_are_not_strings()
    {
        var contracts = typeof(DataWorkspace.Contracts.PlatformIdentity).Assembly.GetTypes()
            .Where(type => type.Namespace?.StartsWith("DataWorkspace.Contracts", StringComparison.Ordinal) == true);
        var proxy = typeof(DataWorkspace.Proxy.ProxyOptions).Assembly.GetTypes();
        const BindingFlags declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var strings = contracts.Concat(proxy)
            .SelectMany(type => type.GetProperties(declared).Select(p => (Type: type, p.Name, Of: p.PropertyType))
                .Concat(type.GetFields(declared).Where(f => !f.Name.Contains('<', StringComparison.Ordinal)).Select(f => (Type: type, f.Name, Of: f.FieldType))))
            .Where(member => member.Of == typeof(string) && StateLike().IsMatch(member.Name))
            .Select(member => $"{member.Type.FullName}.{member.Name}").Order(StringComparer.Ordinal).ToList();
        Assert.True(strings.Count == 0, $"Strings where the contract needs an enum:\n{string.Join('\n', strings)}");
    }

    [Fact]
    public void The_proxy_branches_on_no_state_or_reason_by_its_text()
    {
        var comparisons = (from path in Sources.Files(ProxyProject, ".cs")
                           from line in Sources.CodeLines(ProxyProject, path)
                           where TextComparison().IsMatch(line.Text)
                           select $"{path}:{line.Number}: {line.Text.Trim()}").ToList();
        Assert.True(comparisons.Count == 0, $"The proxy compares text it got from the web app:\n{string.Join('\n', comparisons)}");
    }

    [GeneratedRegex(@"(State|Stage|Cause)$")]
    private static partial Regex StateLike();

    // state.State == "Running", "Running" != x.State, State is "None", { State: "Stopped" }, State switch { "Running" => ..., reason.StartsWith("...")
    [GeneratedRegex(@"\w*(State|Stage|Cause)\s*(==|!=|is\s+(not\s+)?|:\s*)""|""\s*(==|!=)\s*[\w.?]*(State|Stage|Cause)\b|(State|Stage|Cause)\s+switch\s*\{\s*""|Reason\b.*\.StartsWith\(\s*""")]
    private static partial Regex TextComparison();
}
