using System.Globalization;
using System.Security;
using System.Text;

namespace DataWorkspace.Bench.Suite;

/// <summary>
/// A plot's series drawn as a standalone SVG document: lines as a line chart (axes, ticks, a legend), bars as a bar
/// chart with each bar's value. Small on purpose; text widths are estimated, not measured.
/// </summary>
internal static class SvgChart
{
    private const double Width = 880;
    private const double Height = 480;
    private const double CharWidth = 6.6;
    private static readonly string[] Palette = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#999999"];
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Lines(string title, IReadOnlyList<Series> lines)
    {
        var points = lines.SelectMany(line => line.X.Zip(line.Y)).Where(p => double.IsFinite(p.First) && double.IsFinite(p.Second)).ToList();
        var (xTicks, yTicks) = points.Count == 0
            ? (Ticks(0, 1), Ticks(0, 1))
            : (Ticks(points.Min(p => p.First), points.Max(p => p.First)), Ticks(Math.Min(0, points.Min(p => p.Second)), points.Max(p => p.Second)));
        var legendWidth = Math.Min(280, lines.Max(line => line.Line.Length) * CharWidth + 40);
        var plot = new Area(Left: 80, Top: 50, Right: Width - legendWidth - 20, Bottom: Height - 60);
        double X(double x) => plot.Left + (x - xTicks[0]) / (xTicks[^1] - xTicks[0]) * plot.Width;
        double Y(double y) => plot.Bottom - (y - yTicks[0]) / (yTicks[^1] - yTicks[0]) * plot.Height;

        var svg = Begin(title);
        Grid(svg, plot, yTicks, Y);
        foreach (var tick in xTicks)
        {
            svg.AppendLine(Invariant, $"""<line x1="{X(tick):0.#}" y1="{plot.Bottom:0.#}" x2="{X(tick):0.#}" y2="{plot.Bottom + 5:0.#}" stroke="#333"/>""");
            svg.AppendLine(Invariant, $"""<text x="{X(tick):0.#}" y="{plot.Bottom + 19:0.#}" text-anchor="middle">{Tick(tick, xTicks)}</text>""");
        }
        Axes(svg, plot, lines[0].XLabel, lines[0].YLabel);

        for (var i = 0; i < lines.Count; i++)
        {
            var color = Palette[i % Palette.Length];
            var line = lines[i].X.Zip(lines[i].Y).Where(p => double.IsFinite(p.First) && double.IsFinite(p.Second)).ToList();
            var path = string.Join(' ', line.Select(p => $"{X(p.First).ToString("0.#", Invariant)},{Y(p.Second).ToString("0.#", Invariant)}"));
            svg.AppendLine(Invariant, $"""<polyline fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round" points="{path}"/>""");
            if (line.Count <= 40)
                foreach (var (x, y) in line)
                    svg.AppendLine(Invariant, $"""<circle cx="{X(x):0.#}" cy="{Y(y):0.#}" r="3" fill="{color}"/>""");
            var legendY = plot.Top + 8 + i * 20;
            svg.AppendLine(Invariant, $"""<line x1="{plot.Right + 16:0.#}" y1="{legendY:0.#}" x2="{plot.Right + 40:0.#}" y2="{legendY:0.#}" stroke="{color}" stroke-width="3"/>""");
            svg.AppendLine(Invariant, $"""<text x="{plot.Right + 46:0.#}" y="{legendY + 4:0.#}">{Escape(lines[i].Line)}</text>""");
        }
        return End(svg);
    }

    public static string Bars(string title, IReadOnlyList<Series> series)
    {
        var bars = series.SelectMany(s => s.Labels!.Zip(s.Y)).ToList();
        var longest = bars.Count == 0 ? 0 : bars.Max(bar => bar.First.Length);
        var slanted = longest * CharWidth > (Width - 120) / Math.Max(1, bars.Count) - 8;
        var plot = new Area(Left: 80, Top: 50, Right: Width - 30, Bottom: Height - (slanted ? Math.Min(200, longest * CharWidth * 0.72 + 30) : 60));
        var yTicks = Ticks(Math.Min(0, bars.Count == 0 ? 0 : bars.Min(bar => bar.Second)), bars.Count == 0 ? 1 : bars.Max(bar => bar.Second) * 1.08);
        double Y(double y) => plot.Bottom - (y - yTicks[0]) / (yTicks[^1] - yTicks[0]) * plot.Height;

        var svg = Begin(title);
        Grid(svg, plot, yTicks, Y);
        var slot = plot.Width / Math.Max(1, bars.Count);
        for (var i = 0; i < bars.Count; i++)
        {
            var (label, value) = bars[i];
            var width = Math.Min(slot * 0.7, 140);
            var left = plot.Left + i * slot + (slot - width) / 2;
            var (top, bottom) = (Y(Math.Max(0, value)), Y(Math.Min(0, value)));
            var center = left + width / 2;
            svg.AppendLine(Invariant, $"""<rect x="{left:0.#}" y="{top:0.#}" width="{width:0.#}" height="{Math.Max(0, bottom - top):0.#}" fill="{Palette[i % Palette.Length]}"><title>{Escape(label)}: {Escape(Format.Number(value))}</title></rect>""");
            svg.AppendLine(Invariant, $"""<text x="{center:0.#}" y="{top - 5:0.#}" text-anchor="middle">{Escape(Format.Number(value))}</text>""");
            if (slanted)
                svg.AppendLine(Invariant, $"""<text x="{center:0.#}" y="{plot.Bottom + 14:0.#}" text-anchor="end" transform="rotate(-35 {center:0.#} {plot.Bottom + 14:0.#})">{Escape(label)}</text>""");
            else
                svg.AppendLine(Invariant, $"""<text x="{center:0.#}" y="{plot.Bottom + 19:0.#}" text-anchor="middle">{Escape(label)}</text>""");
        }
        Axes(svg, plot, "", series[0].YLabel);
        return End(svg);
    }

    private sealed record Area(double Left, double Top, double Right, double Bottom)
    {
        public double Width => Right - Left;
        public double Height => Bottom - Top;
    }

    private static StringBuilder Begin(string title)
    {
        var svg = new StringBuilder();
        svg.AppendLine(Invariant, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" viewBox="0 0 {Width} {Height}" font-family="sans-serif" font-size="12" fill="#222">""");
        svg.AppendLine(Invariant, $"""<title>{Escape(title)}</title>""");
        svg.AppendLine(Invariant, $"""<rect width="{Width}" height="{Height}" fill="#fff"/>""");
        svg.AppendLine(Invariant, $"""<text x="{Width / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">{Escape(title)}</text>""");
        return svg;
    }

    private static string End(StringBuilder svg) => svg.AppendLine("</svg>").ToString();

    /// <summary>Horizontal grid lines with the y axis's tick labels.</summary>
    private static void Grid(StringBuilder svg, Area plot, double[] ticks, Func<double, double> y)
    {
        foreach (var tick in ticks)
        {
            svg.AppendLine(Invariant, $"""<line x1="{plot.Left:0.#}" y1="{y(tick):0.#}" x2="{plot.Right:0.#}" y2="{y(tick):0.#}" stroke="#ddd"/>""");
            svg.AppendLine(Invariant, $"""<text x="{plot.Left - 8:0.#}" y="{y(tick) + 4:0.#}" text-anchor="end">{Tick(tick, ticks)}</text>""");
        }
    }

    private static void Axes(StringBuilder svg, Area plot, string xLabel, string yLabel)
    {
        svg.AppendLine(Invariant, $"""<line x1="{plot.Left:0.#}" y1="{plot.Bottom:0.#}" x2="{plot.Right:0.#}" y2="{plot.Bottom:0.#}" stroke="#333"/>""");
        svg.AppendLine(Invariant, $"""<line x1="{plot.Left:0.#}" y1="{plot.Top:0.#}" x2="{plot.Left:0.#}" y2="{plot.Bottom:0.#}" stroke="#333"/>""");
        if (xLabel.Length > 0)
            svg.AppendLine(Invariant, $"""<text x="{plot.Left + plot.Width / 2:0.#}" y="{Height - 18:0.#}" text-anchor="middle" font-size="13">{Escape(xLabel)}</text>""");
        var middle = plot.Top + plot.Height / 2;
        svg.AppendLine(Invariant, $"""<text x="20" y="{middle:0.#}" text-anchor="middle" font-size="13" transform="rotate(-90 20 {middle:0.#})">{Escape(yLabel)}</text>""");
    }

    /// <summary>Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering [min, max], about six of them.</summary>
    internal static double[] Ticks(double min, double max)
    {
        if (!(max > min)) (min, max) = (min - Math.Max(1, Math.Abs(min) * 0.1), max + Math.Max(1, Math.Abs(max) * 0.1));
        var raw = (max - min) / 6;
        var power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1, 2, 2.5, 5, 10 }.Select(m => m * power).First(s => s >= raw * 0.999);
        var first = Math.Floor(min / step) * step;
        var count = (int)Math.Ceiling((max - first) / step - 1e-9);
        return [.. Enumerable.Range(0, count + 1).Select(i => Math.Round(first + i * step, 10))];
    }

    private static string Tick(double value, double[] ticks)
    {
        var step = ticks.Length > 1 ? ticks[1] - ticks[0] : 1;
        var decimals = Math.Max(0, (int)Math.Ceiling(-Math.Log10(step) - 1e-9) + (step * Math.Pow(10, Math.Ceiling(-Math.Log10(step) - 1e-9)) % 1 > 1e-6 ? 1 : 0));
        return Escape(value.ToString(decimals == 0 ? "#,0" : "#,0." + new string('0', decimals), Invariant));
    }

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";
}
