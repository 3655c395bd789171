using System.Globalization;
using System.Text;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Formatting;

/// <summary>
/// Renders values the way Spark's <c>Dataset.show()</c> casts them to strings (Spark 3.5+/4.0 "pretty" strings):
/// NULL in capitals, Java's double format, <c>[1, 2]</c> arrays, <c>{a, b}</c> structs, <c>{k -&gt; v}</c> maps,
/// <c>[4A 4B]</c> binary and timestamps in the session time zone without trailing zero fractions.
/// </summary>
internal static class ValueFormatter
{
    public static string Format(object? value, EngineType type, TimeZoneInfo timeZone)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (value is null)
        {
            return "NULL";
        }

        switch (type.Kind)
        {
            case TypeKind.Boolean:
                return (bool)value ? "true" : "false";
            case TypeKind.Float:
                return FormatJavaDouble(Convert.ToSingle(value, CultureInfo.InvariantCulture), isFloat: true);
            case TypeKind.Double:
                return FormatJavaDouble(Convert.ToDouble(value, CultureInfo.InvariantCulture), isFloat: false);
            case TypeKind.Decimal:
                return Convert.ToDecimal(value, CultureInfo.InvariantCulture).ToString("F" + type.Scale.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
            case TypeKind.Binary:
                return "[" + string.Join(' ', ((byte[])value).Select(b => b.ToString("X2", CultureInfo.InvariantCulture))) + "]";
            case TypeKind.Date:
                return ((DateOnly)value).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            case TypeKind.Timestamp:
                var utc = DateTime.SpecifyKind((DateTime)value, DateTimeKind.Utc);
                return FormatTimestamp(TimeZoneInfo.ConvertTimeFromUtc(utc, timeZone));
            case TypeKind.TimestampNtz:
                return FormatTimestamp((DateTime)value);
            case TypeKind.Array:
                return "[" + string.Join(", ", ((IEnumerable<object?>)value).Select(v => Format(v, type.Element!, timeZone))) + "]";
            case TypeKind.Struct:
                var row = (object?[])value;
                return "{" + string.Join(", ", type.Fields.Select((f, i) => Format(row[i], f.Type, timeZone))) + "}";
            case TypeKind.Map:
                return "{" + string.Join(", ", ((IEnumerable<KeyValuePair<object, object?>>)value).Select(p => Format(p.Key, type.Key!, timeZone) + " -> " + Format(p.Value, type.Value!, timeZone))) + "}";
            default:
                return Convert.ToString(value, CultureInfo.InvariantCulture) ?? "NULL";
        }
    }

    private static string FormatTimestamp(DateTime value)
    {
        var text = value.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var ticks = value.Ticks % TimeSpan.TicksPerSecond;
        if (ticks == 0)
        {
            return text;
        }

        // Spark prints microseconds and drops trailing zeros (".5", ".123456").
        var micros = ticks / 10;
        return text + "." + micros.ToString("D6", CultureInfo.InvariantCulture).TrimEnd('0');
    }

    /// <summary>Java's <c>Double.toString</c> / <c>Float.toString</c>: plain between 10^-3 and 10^7, else d.dddE±n.</summary>
    public static string FormatJavaDouble(double value, bool isFloat)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "Infinity" : "-Infinity";
        }

        if (value == 0)
        {
            return double.IsNegative(value) ? "-0.0" : "0.0";
        }

        var shortest = isFloat
            ? ((float)value).ToString("R", CultureInfo.InvariantCulture)
            : value.ToString("R", CultureInfo.InvariantCulture);
        var magnitude = Math.Abs(value);
        if (magnitude >= 1e-3 && magnitude < 1e7)
        {
            var plain = decimal.Parse(shortest, NumberStyles.Float, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
            return plain.Contains('.', StringComparison.Ordinal) ? plain : plain + ".0";
        }

        // Scientific: shortest digits, one before the point, at least one after, exponent without '+'.
        var scientific = double.Parse(shortest, CultureInfo.InvariantCulture).ToString("E16", CultureInfo.InvariantCulture);
        var exponent = int.Parse(scientific[(scientific.IndexOf('E', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture);
        var digits = new StringBuilder();
        foreach (var c in shortest)
        {
            if (c == 'E' || c == 'e')
            {
                break;
            }

            if (char.IsDigit(c))
            {
                digits.Append(c);
            }
        }

        var significant = digits.ToString().TrimStart('0').TrimEnd('0');
        if (significant.Length == 0)
        {
            significant = "0";
        }

        var mantissa = significant[..1] + "." + (significant.Length > 1 ? significant[1..] : "0");
        return (value < 0 ? "-" : "") + mantissa + "E" + exponent.ToString(CultureInfo.InvariantCulture);
    }
}
