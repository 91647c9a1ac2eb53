using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace DataWorkspace.Bench.Fuzz;

/// <summary>
/// What one target's inputs got back: how many were sent, each outcome's count ("4xx", "closed", "query error" ...),
/// and the findings (a 5xx, a crash, a leak), each kept with the input that caused it and saved to the output folder.
/// </summary>
public sealed class Tally(string target, string outputDirectory)
{
    private readonly ConcurrentDictionary<string, int> outcomes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Finding> findings = new();
    private int sent;
    private int saved;

    public string Target { get; } = target;
    public int Sent => sent;
    public IReadOnlyDictionary<string, int> Outcomes => outcomes;
    public IReadOnlyCollection<Finding> Findings => findings;
    public int Count(string kind) => findings.Count(f => f.Kind == kind);

    public void Sending() => Interlocked.Increment(ref sent);

    public void Outcome(string outcome) => outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);

    /// <summary>A finding: <paramref name="kind"/> is "5xx", "crash" or another check that failed; the input is saved to a file.</summary>
    public void Found(string kind, string caseName, string what, ReadOnlySpan<byte> input)
    {
        var number = Interlocked.Increment(ref saved);
        var file = Path.Combine(outputDirectory, $"{Target}-{number:D3}-{kind}.bin");
        // The first findings of a kind say everything; a run that finds thousands keeps the first 50 files.
        if (number <= 50)
        {
            Directory.CreateDirectory(outputDirectory);
            File.WriteAllBytes(file, input.ToArray());
            File.WriteAllText(Path.ChangeExtension(file, ".txt"), $"{caseName}\n{what}\n");
        }
        findings.Enqueue(new Finding(kind, caseName, what, number <= 50 ? file : null));
        Console.WriteLine($"  !! {Target} {kind}: {caseName}: {what}\n     input: {Shown(input)}");
    }

    public void Found(string kind, string caseName, string what, string input) => Found(kind, caseName, what, Encoding.UTF8.GetBytes(input));

    /// <summary>The input as text, control bytes and non-ASCII escaped, cut at 300 characters.</summary>
    public static string Shown(ReadOnlySpan<byte> input)
    {
        var text = new StringBuilder();
        foreach (var b in input[..Math.Min(input.Length, 300)])
        {
            text.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                (byte)'\\' => "\\\\",
                < 0x20 or >= 0x7F => "\\x" + b.ToString("x2", CultureInfo.InvariantCulture),
                _ => ((char)b).ToString(),
            });
        }
        return input.Length > 300 ? $"{text}... ({input.Length:N0} bytes)" : text.ToString();
    }

    public string Summary() =>
        $"{Target}: {Sent:N0} sent; " + string.Join(", ", outcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key} {o.Value:N0}"))
        + (findings.IsEmpty ? "; no findings" : "; FINDINGS: " + string.Join(", ", findings.GroupBy(f => f.Kind).Select(g => $"{g.Key} {g.Count()}")));
}

public sealed record Finding(string Kind, string Case, string What, string? File);
