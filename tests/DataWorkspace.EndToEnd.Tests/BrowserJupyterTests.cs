using System.Diagnostics;
using System.Text.RegularExpressions;
using DataWorkspace.Contracts;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// A real tool in a real browser: Tom opens his Jupyter Notebook (Debian's jupyter-notebook, run by the Local
/// launcher) through the proxy, watches it start, creates a notebook and runs a cell on a kernel reached over a websocket.
/// </summary>
public sealed class BrowserJupyterTests(PlatformFixture fixture) : BrowserTest
{
    private const string Tom = "tom.evans@partner.example";

    [Fact]
    public async Task A_user_opens_their_Jupyter_Notebook_through_the_proxy_and_runs_a_cell()
    {
        if (!OnPath("jupyter-notebook"))
            Assert.Fail("jupyter-notebook is not installed, and this test launches it as a user's tool: install Debian's package (apt-get install jupyter-notebook), as .ci/run does.");

        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = new List<string>();
        void Watch(IPage watched)
        {
            watched.PageError += (_, error) => problems.Add($"{watched.Url}: {error}");
            watched.WebSocket += (_, socket) => socket.SocketError += (_, error) => problems.Add($"websocket {socket.Url}: {error}");
            watched.Response += (_, response) =>
            {
                if (response.Status is 401 or 403 or >= 500) problems.Add($"{response.Status} {response.Request.Method} {response.Url}");
            };
        }

        Watch(page);
        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Tom Evans") }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("welcome")).ToBeVisibleAsync();
        var id = (await fixture.Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", Tom))!;
        await fixture.Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", id);
        var portal = fixture.Platform.PortalUrl;
        var toolUrl = new Uri($"http://jupyter-{UserHash.Of(id)}.{portal.Host}:{portal.Port}/");

        // The first visit starts the notebook server and shows the progress page, which moves on by itself.
        var clock = Stopwatch.StartNew();
        var first = await page.GotoAsync(toolUrl.ToString());
        Assert.Equal(202, first!.Status);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Starting your Jupyter Notebook" })).ToBeVisibleAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"^{Regex.Escape(toolUrl.ToString())}tree"), new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#notebook_list")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        TestContext.Current.SendDiagnosticMessage($"Jupyter Notebook's file list through the proxy after {clock.ElapsedMilliseconds} ms");
        await Browser.SaveScreenshotAsync(page, "jupyter-1-tree");

        // New > Python 3 creates a notebook (an API call that needs Jupyter's XSRF cookie) and opens it in a new tab.
        await page.Locator("#new-dropdown-button").ClickAsync();
        var notebook = await context.RunAndWaitForPageAsync(() => page.Locator("#kernel-python3 a").ClickAsync());
        Watch(notebook);
        await Assertions.Expect(notebook).ToHaveURLAsync(new Regex(@"/notebooks/Untitled\d*\.ipynb"), new() { Timeout = 30_000 });
        // The kernel's messages travel over a websocket through the proxy: idle means it connected and answered.
        await Assertions.Expect(notebook.Locator("#kernel_indicator_icon")).ToHaveClassAsync(new Regex("kernel_idle_icon"), new() { Timeout = 30_000 });

        await notebook.Locator(".cell.code_cell .CodeMirror").First.ClickAsync();
        await notebook.Keyboard.TypeAsync("print(6*7)");
        await notebook.Keyboard.PressAsync("Shift+Enter");
        await Assertions.Expect(notebook.Locator(".cell.code_cell .output_area .output_text").First).ToHaveTextAsync("42", new() { Timeout = 30_000 });
        await Assertions.Expect(notebook.Locator(".cell.code_cell .input_prompt").First).ToContainTextAsync("[1]", new() { Timeout = 30_000 });
        TestContext.Current.SendDiagnosticMessage($"A cell ran on the kernel through the proxy after {clock.ElapsedMilliseconds} ms");
        await Browser.SaveScreenshotAsync(notebook, "jupyter-2-cell-ran");
        Assert.Empty(problems);
    }

    private static bool OnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, command)));
}
