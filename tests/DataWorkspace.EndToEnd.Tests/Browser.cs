using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>Debian's Chromium driven by Playwright (Playwright's own browser download cannot work here).</summary>
public static class Browser
{
    public const string ChromiumPath = "/usr/bin/chromium";

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium package (apt-get install chromium), as .ci/run does.");

        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        });
        return (playwright, browser);
    }

    /// <summary>
    /// Runs axe (its default rules: WCAG A and AA, and best practice; in every frame) over the page as it is now and fails listing every
    /// serious or critical violation: the rule, its impact, the elements it found and how to fix it.
    /// </summary>
    public static async Task AssertAccessibleAsync(IPage page)
    {
        var result = await page.RunAxe();
        var violations = result.Violations.Where(violation => violation.Impact is "serious" or "critical").ToList();
        if (violations.Count == 0) return;

        var report = string.Join("\n", violations.Select(violation =>
            $"- {violation.Id} ({violation.Impact}): {violation.Help} ({violation.HelpUrl})\n" +
            string.Join("\n", violation.Nodes.Select(node => $"    {node.Target}: {node.Html}"))));
        Assert.Fail($"{page.Url} has {violations.Count} serious or critical accessibility problem(s):\n{report}");
    }

    /// <summary>
    /// What goes wrong on the page from now on, for the test to assert empty: its script errors and console errors (a
    /// resource that failed to load is left to <paramref name="failedResponses"/>, which lists answers of 400 and above).
    /// </summary>
    public static List<string> WatchForProblems(IPage page, bool failedResponses = false)
    {
        var problems = new List<string>();
        page.PageError += (_, error) => problems.Add(error);
        page.Console += (_, message) => { if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal)) problems.Add(message.Text); };
        if (failedResponses) page.Response += (_, response) => { if (response.Status >= 400) problems.Add($"{response.Status} {response.Request.Method} {response.Url}"); };
        return problems;
    }

    /// <summary>Saves a screenshot under artifacts/screenshots and attaches it to the test result.</summary>
    public static async Task SaveScreenshotAsync(IPage page, string name)
    {
        var folder = Path.Combine(TestDirectories.RepositoryRoot(), "artifacts", "screenshots");
        Directory.CreateDirectory(folder);
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true, Path = Path.Combine(folder, name + ".png") });
        TestContext.Current.AddAttachment(name, bytes, "image/png");
    }
}

/// <summary>A test class that drives one Chromium, started before its tests and closed after them.</summary>
public abstract class BrowserTest : IAsyncLifetime
{
    private IPlaywright? playwright;

    protected IBrowser Chromium { get; private set; } = null!;

    public async ValueTask InitializeAsync() => (playwright, Chromium) = await Browser.LaunchAsync();

    public async ValueTask DisposeAsync()
    {
        if (Chromium is not null) await Chromium.DisposeAsync();
        playwright?.Dispose();
        GC.SuppressFinalize(this);
    }
}
