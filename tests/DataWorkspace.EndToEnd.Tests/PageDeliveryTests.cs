using System.Net;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>How pages reach the browser through the proxy: whole, with their length, not as a stream of small chunks.</summary>
public sealed class PageDeliveryTests(PlatformFixture fixture)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("/")]
    [InlineData("/datasets")]
    [InlineData("/datasets?q=trade&sort=Newest")]
    public async Task A_page_arrives_in_one_piece_with_its_content_length(string path)
    {
        using var client = fixture.Platform.Client();
        await client.SignInAsync("tom.evans@partner.example", cancellationToken: Cancel);

        using var response = await client.Http.GetAsync(path, Cancel);
        var body = await response.Content.ReadAsByteArrayAsync(Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(true, response.Headers.TransferEncodingChunked);
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
        Assert.EndsWith("</html>", System.Text.Encoding.UTF8.GetString(body).TrimEnd());
    }

    [Fact]
    public async Task An_unknown_page_still_gets_the_not_found_page()
    {
        using var client = fixture.Platform.Client();
        await client.SignInAsync("tom.evans@partner.example", cancellationToken: Cancel);

        using var response = await client.Http.GetAsync("/datasets/no-such-dataset-anywhere", Cancel);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("Page not found", await response.Content.ReadAsStringAsync(Cancel));
    }
}
