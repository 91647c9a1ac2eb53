using System.Text;

namespace DataWorkspace.Bench.Fuzz;

/// <summary>Seeded random changes to a valid input: the same seed gives the same inputs, so a finding can be replayed.</summary>
public sealed class Mutator(int seed)
{
    private readonly Random random = new(seed);

    /// <summary>Bytes that parsers get wrong: NUL, CR and LF alone, DEL, an overlong '/', a lone continuation byte, UTF-8 BOM, high Latin-1.</summary>
    public static readonly byte[][] NastyBytes =
    [
        [0x00], [(byte)'\r'], [(byte)'\n'], [0x7F], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0x80], [0xEF, 0xBB, 0xBF], [0xFF], [(byte)'"'], [(byte)'%'],
        [(byte)'\t'], [(byte)' '], [0xF4, 0x90, 0x80, 0x80], [0xED, 0xA0, 0x80], "\r\n"u8.ToArray(), "\r\n\r\n"u8.ToArray(), [(byte)','], [(byte)';'], [(byte)':'],
    ];

    public static readonly string[] NastyText =
    [
        "\0", "'", "\"", "\\", "%", "%00", "%2e%2e", "%2F", "..", "../", "\r\n", "\u00e9", "e\u0301", "\u202E", "\u200D", "\uFEFF", "\uFF0F", "\u2025",
        "\U0001F600", "😀", "\u0000\u0000", "$$", "--", "/*", "*/", ";", "\t", "ǅ", "İ", "ß", "\u0085", "\u2028", "=cmd|' /C calc'!A0", "+1", "@SUM(1)",
    ];

    public int Next(int max) => random.Next(max);

    public int Next(int min, int max) => random.Next(min, max);

    public bool Chance(double p) => random.NextDouble() < p;

    public T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    /// <summary>One to four random byte-level changes: flip, insert a nasty byte, delete, duplicate a slice, truncate.</summary>
    public byte[] Mutate(byte[] input)
    {
        var bytes = new List<byte>(input);
        var changes = random.Next(1, 5);
        for (var i = 0; i < changes; i++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes.InsertRange(at, Pick(NastyBytes));
                    break;
                case 2 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(random.Next(1, 8), bytes.Count - at));
                    break;
                case 3 when bytes.Count > 0:
                    var length = Math.Min(random.Next(1, 64), bytes.Count - at);
                    var slice = bytes.GetRange(at, length);
                    for (var copies = random.Next(1, 4); copies > 0; copies--) bytes.InsertRange(at, slice);
                    break;
                case 4 when bytes.Count > 0:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                default:
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
            }
        }
        return [.. bytes];
    }

    /// <summary>Text changed like <see cref="Mutate(byte[])"/> but by characters: a nasty piece inserted, a slice deleted or repeated, cut short.</summary>
    public string Mutate(string input)
    {
        var text = new StringBuilder(input);
        var changes = random.Next(1, 4);
        for (var i = 0; i < changes; i++)
        {
            var at = text.Length == 0 ? 0 : random.Next(text.Length);
            switch (random.Next(5))
            {
                case 0:
                    text.Insert(at, Pick(NastyText));
                    break;
                case 1 when text.Length > 0:
                    text.Remove(at, Math.Min(random.Next(1, 8), text.Length - at));
                    break;
                case 2 when text.Length > 0:
                    var slice = text.ToString(at, Math.Min(random.Next(1, 32), text.Length - at));
                    for (var copies = random.Next(1, 4); copies > 0; copies--) text.Insert(at, slice);
                    break;
                case 3 when text.Length > 0:
                    text.Length = at;
                    break;
                default:
                    text.Insert(at, (char)random.Next(0x20, 0x3000));
                    break;
            }
        }
        return text.ToString();
    }
}
