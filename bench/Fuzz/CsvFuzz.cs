using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Bench.Fuzz;

/// <summary>
/// Malformed CSV at the admin's reference data upload (/admin/reference/{id}, handler Upload): encodings, BOMs, ragged
/// rows, quotes, huge fields, formula-looking cells, NULs. Accepted (a redirect) or refused with the page's error
/// summary (400) is right; a 4xx without a message, or a 5xx, is not.
/// </summary>
public sealed partial class CsvFuzz(Tally tally, Mutator mutator)
{
    private const string Header = "code,name,n,amount,day,flag";
    private const string Columns = "code:text:required\nname:text\nn:integer\namount:decimal\nday:date\nflag:boolean";

    private static readonly string[] Seeds =
    [
        Header + "\nGB,United Kingdom,1,12.5,2024-01-31,true\nFR,France,2,-3.25,2023-12-01,no\n",
        "name,code,flag,day,amount,n\r\n\"Quoted, with comma\",Q1,1,2020-02-29,0.1,-7\r\n\"He said \"\"hi\"\"\",Q2,false,,,\r\n",
        Header + "\nA,,,,,\nB,\"multi\nline\",3,1000000.0001,1999-12-31,yes\n",
        "\uFEFF" + Header + "\nZ,Z\u00fcrich \U0001F600,0,0,2000-01-01,0\n",
    ];

    /// <summary>Kestrel's default request body limit, which the proxy keeps.</summary>
    private const int ProxyBodyLimit = 30_000_000;

    private Guid datasetId;
    private string token = "";
    private HttpClient http = null!;

    /// <summary>Makes a reference dataset of its own and defines its table as Morgan (an admin), through the page's own form.</summary>
    public async Task SetUpAsync(RunningPlatform platform, PortalClient morgan, CancellationToken cancellationToken)
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        datasetId = (await platform.CatalogueScalarAsync<Guid>("""
            INSERT INTO datasets (id, type, name, slug, short_description, description, publisher, licence, retention, classification,
              information_asset_owner, information_asset_manager, editors, access_type, authorized_email_domains, eligibility_criteria,
              published, published_at, created_at, updated_at)
            VALUES (gen_random_uuid(), 'ReferenceDataset', $1, $2, 'Fuzzed uploads', '', 'Bench', '', '', 'Official', '', '', '{}', 'Open', '{}', '{}',
              true, now(), now(), now())
            RETURNING id
            """, $"Fuzz {suffix}", $"fuzz-{suffix}"))!;
        // The page's redirects are results here, not steps to follow; the cookies are Morgan's.
        var handler = new SocketsHttpHandler { CookieContainer = morgan.Cookies, AllowAutoRedirect = false, UseProxy = false, ConnectCallback = PortalClient.ConnectToLoopbackAsync };
        http = new HttpClient(handler) { BaseAddress = morgan.PortalUrl, Timeout = TimeSpan.FromSeconds(60) };
        var page = await http.GetStringAsync($"/admin/reference/{datasetId}", cancellationToken);
        token = Token().Match(page).Groups[1].Value;
        using var define = await http.PostAsync($"/admin/reference/{datasetId}?handler=Define", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["tableName"] = $"fuzz_{suffix}",
            ["columns"] = Columns,
            ["__RequestVerificationToken"] = token,
        }), cancellationToken);
        if ((int)define.StatusCode != 302)
            throw new InvalidOperationException($"Defining the reference table answered {(int)define.StatusCode}: {await define.Content.ReadAsStringAsync(cancellationToken)}");
    }

    private static List<(string Name, byte[] File, string FileName)> Known()
    {
        var valid = Seeds[0];
        byte[] U(string text) => Encoding.UTF8.GetBytes(text);
        byte[] Join(params byte[][] parts) => [.. parts.SelectMany(p => p)];
        var manyRows = new StringBuilder(Header + "\n");
        for (var i = 0; i < 100_001; i++) manyRows.Append("c,,,,,\n");
        return
        [
            ("valid", U(valid), "ok.csv"),
            ("UTF-8 BOM", Join([0xEF, 0xBB, 0xBF], U(valid)), "bom.csv"),
            ("two BOMs", Join([0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF], U(valid)), "bom2.csv"),
            ("UTF-16 LE with BOM", Join([0xFF, 0xFE], Encoding.Unicode.GetBytes(valid)), "utf16.csv"),
            ("UTF-16 BE with BOM", Join([0xFE, 0xFF], Encoding.BigEndianUnicode.GetBytes(valid)), "utf16be.csv"),
            ("UTF-32", Encoding.UTF32.GetBytes(valid), "utf32.csv"),
            ("Latin-1 byte", Join(U(Header + "\nFR,"), [0xE9], U("tat,1,1,2020-01-01,true\n")), "latin1.csv"),
            ("overlong UTF-8", Join(U(Header + "\nX,"), [0xC0, 0xAF], U(",1,1,2020-01-01,true\n")), "overlong.csv"),
            ("encoded surrogate", Join(U(Header + "\nX,"), [0xED, 0xA0, 0x80], U(",1,1,2020-01-01,true\n")), "surrogate.csv"),
            ("NUL in a text cell", U(Header + "\nX,a\0b,1,1,2020-01-01,true\n"), "nul.csv"),
            ("NUL in the required cell", U(Header + "\n\0,a,1,1,2020-01-01,true\n"), "nul2.csv"),
            ("NUL in the header", U("code\0,name,n,amount,day,flag\nX,a,1,1,2020-01-01,true\n"), "nul3.csv"),
            ("NUL alone", [0], "nul4.csv"),
            ("control characters", U(Header + "\nX,a\u0001\u0007\u001b[31m,1,1,2020-01-01,true\n"), "ctl.csv"),
            ("fewer values", U(Header + "\nX,a,1\n"), "ragged.csv"),
            ("more values", U(Header + "\nX,a,1,1,2020-01-01,true,extra,more\n"), "ragged2.csv"),
            ("unbalanced quote", U(Header + "\n\"X,a,1,1,2020-01-01,true\n"), "quote.csv"),
            ("quote in the middle", U(Header + "\nX,a\"b,1,1,2020-01-01,true\n"), "quote2.csv"),
            ("text after a closing quote", U(Header + "\n\"X\"y,a,1,1,2020-01-01,true\n"), "quote3.csv"),
            ("CR line endings", U(valid.Replace("\n", "\r", StringComparison.Ordinal)), "cr.csv"),
            ("mixed line endings", U(Header + "\r\nA,,,,,\rB,,,,,\nC,,,,,\r\n"), "mixed.csv"),
            ("Unicode line separators", U(Header + "\u2028A,,,,,\u2029B,,,,,\u0085C,,,,,\n"), "ls.csv"),
            ("1 MB field", U(Header + "\nX," + new string('w', 1_000_000) + ",1,1,2020-01-01,true\n"), "wide.csv"),
            ("10,001-character text", U(Header + "\nX," + new string('w', 10_001) + ",,,,\n"), "wide2.csv"),
            ("100,001 rows", U(manyRows.ToString()), "rows.csv"),
            ("6 MB", U(Header + "\n" + string.Concat(Enumerable.Repeat("X,abcdefghijklmnopqrstuvwxyz,1,1,2020-01-01,true\n", 130_000))), "big.csv"),
            ("11 MB", U(Header + "\n" + string.Concat(Enumerable.Repeat("X,abcdefghijklmnopqrstuvwxyz,1,1,2020-01-01,true\n", 240_000))), "huge.csv"),
            ("35 MB", U(Header + "\n" + string.Concat(Enumerable.Repeat("X,abcdefghijklmnopqrstuvwxyz,1,1,2020-01-01,true\n", 740_000))), "huger.csv"),
            ("formula cells", U(Header + "\n=cmd|' /C calc'!A0,+1+1,-1,@SUM(A1),2020-01-01,true\n\"=HYPERLINK(\"\"http://evil.example\"\")\",\t=1,,,,\n"), "formula.csv"),
            ("number edges", U(Header + "\nA,,99999999999999999999,1e5,2024-02-30,TRUE\nB,,-9223372036854775808,79228162514264337593543950336,0001-01-01,maybe\nC,,1_000,NaN,9999-12-31,\n"), "numbers.csv"),
            ("thousands separators", U(Header + "\nA,,\"1,000\",\"1,234.5\",,\nB,,1.000,\"1.234,5\",,\n"), "thousands.csv"),
            ("empty file", [], "empty.csv"),
            ("header only", U(Header), "header.csv"),
            ("blank lines only", U("\n\n\n"), "blank.csv"),
            ("header of spaces", U("   \nX\n"), "spaces.csv"),
            ("duplicate header", U("code,code,name,n,amount,day,flag\nX,X,a,1,1,2020-01-01,true\n"), "dup.csv"),
            ("header in capitals", U(Header.ToUpperInvariant() + "\nX,a,1,1,2020-01-01,true\n"), "caps.csv"),
            ("2,000 columns", U(Header + "," + string.Join(",", Enumerable.Range(0, 2000).Select(i => $"c{i}")) + "\n"), "cols.csv"),
            ("trailing comma", U(Header + ",\nX,a,1,1,2020-01-01,true,\n"), "trail.csv"),
            ("semicolons", U(Header.Replace(',', ';') + "\nX;a;1;1;2020-01-01;true\n"), "semi.csv"),
            ("binary", [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 256))], "binary.csv"),
            ("file name with NUL and path", U(valid), "../../etc/\0passwd.csv"),
            ("file name 5,000 long", U(valid), new string('n', 5_000) + ".csv"),
            ("file name unicode", U(valid), "d\u00e4ta \U0001F600 \u202Egpj.csv"),
        ];
    }

    public async Task RunAsync(TimeSpan duration, int maxCases, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + duration;
        var known = Known();
        for (var index = 0; index < maxCases && DateTime.UtcNow < until && !cancellationToken.IsCancellationRequested; index++)
        {
            var (name, file, fileName) = index < known.Count ? ("known: " + known[index].Name, known[index].File, known[index].FileName) : RandomCase();
            await UploadAsync(name, file, fileName, cancellationToken);
        }
        // The form with no file at all.
        await UploadAsync("no file", null, "", cancellationToken);
    }

    private (string, byte[], string) RandomCase()
    {
        var csv = mutator.Pick(Seeds);
        if (mutator.Chance(0.5))
        {
            for (var i = mutator.Next(1, 4); i > 0; i--) csv = mutator.Mutate(csv);
            return ("mutated text", Encoding.UTF8.GetBytes(csv), "m.csv");
        }
        return ("mutated bytes", mutator.Mutate(Encoding.UTF8.GetBytes(csv)), "b.csv");
    }

    private async Task UploadAsync(string name, byte[]? file, string fileName, CancellationToken cancellationToken)
    {
        tally.Sending();
        using var form = new MultipartFormDataContent { { new StringContent(token), "__RequestVerificationToken" } };
        if (file is not null)
        {
            var part = new ByteArrayContent(file);
            part.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
            // The file name as a browser sends it: raw in the quoted string, whatever it holds.
            part.Headers.TryAddWithoutValidation("Content-Disposition", $"form-data; name=\"file\"; filename=\"{fileName.Replace("\"", "%22", StringComparison.Ordinal)}\"");
            form.Add(part);
        }
        try
        {
            using var response = await http.PostAsync($"/admin/reference/{datasetId}?handler=Upload", form, cancellationToken);
            var status = (int)response.StatusCode;
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var input = file ?? [];
            if (status >= 500)
            {
                tally.Outcome("5xx");
                tally.Found("5xx", name, $"{status}: {Text(body)}", input);
            }
            else if (status is 302 or 303)
            {
                tally.Outcome("accepted");
            }
            else if (status == 400 && body.Contains("govuk-error-summary", StringComparison.Ordinal))
            {
                tally.Outcome("refused with a message");
            }
            else if (status == 413 && body.Contains("larger than", StringComparison.Ordinal))
            {
                tally.Outcome("too large, saying so");
            }
            else if (status >= 400)
            {
                tally.Outcome($"{status} without the page's message");
                tally.Found("unclear 4xx", name, $"{status}: {Text(body)}", input);
            }
            else
            {
                tally.Outcome($"{status}");
            }
        }
        catch (HttpRequestException) when (file is { Length: > ProxyBodyLimit } && !cancellationToken.IsCancellationRequested)
        {
            // The proxy refuses a body over its limit with 413 as soon as it reads the headers (the proxy target checks
            // that answer) and closes the connection, so a client still sending sees the reset, not the answer.
            tally.Outcome("reset while sending (over the proxy's limit)");
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            tally.Outcome("no answer");
            tally.Found("5xx", name, $"no answer: {exception.Message}", file ?? []);
        }
    }

    private static string Text(string body)
    {
        var text = Regex.Replace(Regex.Replace(body, "<(script|style)[^>]*>.*?</\\1>", " ", RegexOptions.Singleline), "<[^>]+>", " ");
        text = Regex.Replace(text, "\\s+", " ").Trim();
        return text[..Math.Min(text.Length, 400)];
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"")]
    private static partial Regex Token();
}
