using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Security;
using System.Text;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// docs/benchmarks.png: every metric relative to direct (direct = 1.0), one group of bars per metric. Drawn as SVG and
/// converted with rsvg-convert (Debian librsvg2-bin); without it, the same bars (no text) are rasterized here and
/// written with a minimal PNG encoder (ZLibStream + CRC-32).
/// </summary>
internal static class Chart
{
    private const int Width = 1200;
    private const int Height = 560;
    private const int Left = 70;
    private const int Right = 20;
    private const int Top = 60;
    private const int Bottom = 150;
    private static readonly string[] Converters = ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"];
    private static readonly string[] Paths = ["direct", "gateway", "nginx", "yarp"];
    private static readonly (byte R, byte G, byte B)[] Colors = [(0x9e, 0x9e, 0x9e), (0x1f, 0x77, 0xb4), (0x2c, 0xa0, 0x2c), (0xff, 0x7f, 0x0e)];

    public static async Task<string> WriteAsync(Report report, string pngPath)
    {
        var groups = report.Rows().Where(r => r.Metric is "p50" or "calls" or "mbs")
            .Select(r => (Label: Short(r.Scenario, r.Metric), Values: Paths.Select(p => report.Value(r.Scenario, p, r.Value) / report.Value(r.Scenario, "direct", r.Value)).ToArray()))
            .ToList();
        var max = Math.Max(1.5, Math.Ceiling(groups.SelectMany(g => g.Values).Where(v => !double.IsNaN(v) && !double.IsInfinity(v)).DefaultIfEmpty(1).Max() * 2) / 2);
        var bars = Layout(groups.Count, groups.Select(g => g.Values).ToList(), max);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"DejaVu Sans, sans-serif\">");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"28\" font-size=\"18\" text-anchor=\"middle\">Relative to direct (1.0): p50 lower is better; calls/s, MB/s higher is better</text>");
        for (var tick = 0.0; tick <= max + 1e-9; tick += 0.5)
        {
            var y = Y(tick, max);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{(tick == 1 ? "#555" : "#ddd")}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 8}\" y=\"{y + 4}\" font-size=\"12\" text-anchor=\"end\">{tick:F1}</text>");
        }

        foreach (var bar in bars)
        {
            var (r, g, b) = Colors[bar.Series];
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{bar.X}\" y=\"{bar.Y}\" width=\"{bar.W}\" height=\"{bar.H}\" fill=\"rgb({r},{g},{b})\"/>");
        }

        var groupWidth = (Width - Left - Right) / (double)groups.Count;
        for (var i = 0; i < groups.Count; i++)
        {
            var x = Left + (groupWidth * (i + 0.5));
            svg.Append(CultureInfo.InvariantCulture, $"<text font-size=\"12\" text-anchor=\"end\" transform=\"translate({x:F0},{Height - Bottom + 14}) rotate(-35)\">{SecurityElement.Escape(groups[i].Label)}</text>");
        }

        for (var s = 0; s < Paths.Length; s++)
        {
            var (r, g, b) = Colors[s];
            var x = Left + 20 + (s * 140);
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x}\" y=\"40\" width=\"14\" height=\"14\" fill=\"rgb({r},{g},{b})\"/><text x=\"{x + 20}\" y=\"52\" font-size=\"13\">{Paths[s]}</text>");
        }

        svg.Append("</svg>");
        var svgPath = Path.Combine(Path.GetTempPath(), $"benchmarks-{Environment.ProcessId}.svg");
        await File.WriteAllTextAsync(svgPath, svg.ToString());
        try
        {
            var converter = Converters.FirstOrDefault(File.Exists);
            if (converter is not null)
            {
                using var process = Process.Start(new ProcessStartInfo(converter) { ArgumentList = { "-o", pngPath, svgPath }, UseShellExecute = false, RedirectStandardError = true });
                if (process is not null)
                {
                    await process.WaitForExitAsync();
                    if (process.ExitCode == 0)
                    {
                        return "SVG rendered with rsvg-convert";
                    }
                }
            }
        }
        finally
        {
            File.Delete(svgPath);
        }

        await File.WriteAllBytesAsync(pngPath, Rasterize(bars, max));
        return "rsvg-convert not found (Debian librsvg2-bin): bars only, drawn by the built-in PNG encoder";
    }

    private static string Short(Scenario s, string metric) => metric switch
    {
        "p50" => $"{(s.Analyze ? "Analyze" : "Config")} c{s.Concurrency} p50",
        "calls" => $"{(s.Analyze ? "Analyze" : "Config")} c{s.Concurrency} calls/s",
        _ => $"Exec {(s.BatchBytes >= 1048576 ? "4 MiB" : "64 KiB")} x{s.Concurrency} MB/s",
    };

    private static int Y(double value, double max) => Top + (int)((Height - Top - Bottom) * (1 - (Math.Min(value, max) / max)));

    private static List<(int Series, int X, int Y, int W, int H)> Layout(int count, List<double[]> values, double max)
    {
        var result = new List<(int, int, int, int, int)>();
        var groupWidth = (Width - Left - Right) / (double)count;
        var barWidth = (int)(groupWidth * 0.8 / Paths.Length);
        for (var i = 0; i < count; i++)
        {
            for (var s = 0; s < Paths.Length; s++)
            {
                var v = values[i][s];
                if (double.IsNaN(v) || double.IsInfinity(v))
                {
                    continue;
                }

                var x = Left + (int)(groupWidth * i) + (int)(groupWidth * 0.1) + (s * barWidth);
                var y = Y(v, max);
                result.Add((s, x, y, barWidth - 2, Height - Bottom - y));
            }
        }

        return result;
    }

    private static byte[] Rasterize(List<(int Series, int X, int Y, int W, int H)> bars, double max)
    {
        var stride = 1 + (Width * 3);
        var raw = new byte[stride * Height];
        for (var y = 0; y < Height; y++)
        {
            raw.AsSpan((y * stride) + 1, Width * 3).Fill(0xff);
        }

        void Fill(int x0, int y0, int w, int h, (byte R, byte G, byte B) c)
        {
            for (var y = Math.Max(0, y0); y < Math.Min(Height, y0 + h); y++)
            {
                for (var x = Math.Max(0, x0); x < Math.Min(Width, x0 + w); x++)
                {
                    var at = (y * stride) + 1 + (x * 3);
                    raw[at] = c.R;
                    raw[at + 1] = c.G;
                    raw[at + 2] = c.B;
                }
            }
        }

        for (var tick = 0.0; tick <= max + 1e-9; tick += 0.5)
        {
            Fill(Left, Y(tick, max), Width - Left - Right, 1, tick == 1 ? ((byte)0x55, (byte)0x55, (byte)0x55) : ((byte)0xdd, (byte)0xdd, (byte)0xdd));
        }

        foreach (var bar in bars)
        {
            Fill(bar.X, bar.Y, bar.W, bar.H, Colors[bar.Series]);
        }

        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, Width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), Height);
        header[8] = 8; // bit depth
        header[9] = 2; // truecolour RGB
        WriteChunk(png, "IHDR", header);
        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            {
                zlib.Write(raw);
            }

            WriteChunk(png, "IDAT", compressed.ToArray());
        }

        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        var crc = Crc32(Crc32(0xffffffffu, typeBytes), data) ^ 0xffffffffu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        png.Write(word);
    }

    private static uint Crc32(uint crc, byte[] data)
    {
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
            }
        }

        return crc;
    }
}
