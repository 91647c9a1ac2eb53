using System.Text;
using System.Text.Json;

namespace DataWorkspace.Bench;

/// <summary>The suite's side of the results file: what one step appended, read from where the step before stopped.</summary>
public static class BenchResultsReader
{
    /// <summary>
    /// The figures and series written from byte <paramref name="offset"/> on, the offset to read from next, and how
    /// many lines could not be read (a bench killed in the middle of a write leaves half a line).
    /// </summary>
    public static (List<Figure> Figures, List<Series> Series, long End, int Unreadable) ReadFrom(string path, long offset)
    {
        var figures = new List<Figure>();
        var series = new List<Series>();
        if (!File.Exists(path)) return (figures, series, offset, 0);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var unreadable = 0;
        while (reader.ReadLine() is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var entry = JsonSerializer.Deserialize<BenchResults.Entry>(line, BenchResults.Json);
                if (entry?.Figure is not null) figures.Add(entry.Figure);
                else if (entry?.Series is not null) series.Add(entry.Series);
                else unreadable++;
            }
            catch (JsonException)
            {
                unreadable++;
            }
        }
        return (figures, series, stream.Length, unreadable);
    }

    /// <summary>Ends the file with a line break, so that a half-written last line cannot swallow the next step's first.</summary>
    public static void EndLine(string path)
    {
        if (!File.Exists(path)) return;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        if (stream.Length == 0) return;
        stream.Seek(-1, SeekOrigin.End);
        if (stream.ReadByte() == '\n') return;
        stream.Seek(0, SeekOrigin.End);
        stream.WriteByte((byte)'\n');
    }
}
