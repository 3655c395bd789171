using System.Globalization;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace SparkConnect.Multiplexer.Sql.Output;

/// <summary>Arrow values as Spark 4's <c>Dataset.show()</c> writes them (NULL, [a, b], {k -> v}, {a, b}, [0A 1B]).</summary>
internal static class ArrowValues
{
    public static string Format(IArrowArray array, int index)
    {
        if (array.IsNull(index))
        {
            return "NULL";
        }

        return array switch
        {
            BooleanArray a => a.GetValue(index)!.Value ? "true" : "false",
            Int8Array a => Invariant(a.GetValue(index)),
            Int16Array a => Invariant(a.GetValue(index)),
            Int32Array a => Invariant(a.GetValue(index)),
            Int64Array a => Invariant(a.GetValue(index)),
            UInt8Array a => Invariant(a.GetValue(index)),
            UInt16Array a => Invariant(a.GetValue(index)),
            UInt32Array a => Invariant(a.GetValue(index)),
            UInt64Array a => Invariant(a.GetValue(index)),
            FloatArray a => FloatingPoint(a.GetValue(index)!.Value),
            DoubleArray a => FloatingPoint(a.GetValue(index)!.Value),
            Decimal128Array a => Decimal(a, index),
            StringArray a => a.GetString(index),
            LargeStringArray a => a.GetString(index),
            StringViewArray a => a.GetString(index),
            BinaryArray a => Binary(a.GetBytes(index)),
            LargeBinaryArray a => Binary(a.GetBytes(index)),
            BinaryViewArray a => Binary(a.GetBytes(index)),
            Date32Array a => a.GetDateOnly(index)!.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            Date64Array a => a.GetDateOnly(index)!.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            TimestampArray a => Timestamp(a, index),
            MapArray a => Map(a, index),
            ListArray a => List(a.GetSlicedValues(index)),
            LargeListArray a => List(a.GetSlicedValues(index)),
            FixedSizeListArray a => List(a.GetSlicedValues(index)),
            StructArray a => "{" + string.Join(", ", a.Fields.Select(f => Format(f, index))) + "}",
            _ => $"<{array.Data.DataType.Name}>",
        };
    }

    private static string Invariant<T>(T? value)
        where T : struct, IFormattable
        => value!.Value.ToString(null, CultureInfo.InvariantCulture);

    private static string FloatingPoint(double value) => value switch
    {
        double.PositiveInfinity => "Infinity",
        double.NegativeInfinity => "-Infinity",
        double.NaN => "NaN",

        // Java prints whole doubles with ".0" (1.0), as Spark's show does.
        _ when value == Math.Floor(value) && Math.Abs(value) < 1e7 => value.ToString("0.0", CultureInfo.InvariantCulture),
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string Decimal(Decimal128Array array, int index)
    {
        try
        {
            return array.GetValue(index)!.Value.ToString(CultureInfo.InvariantCulture);
        }
        catch (OverflowException)
        {
            // Beyond System.Decimal's 28 digits: SqlDecimal holds Spark's 38.
            return array.GetSqlDecimal(index)!.Value.ToString();
        }
    }

    private static string Binary(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder("[");
        for (var i = 0; i < bytes.Length; i++)
        {
            text.Append(i == 0 ? "" : " ").Append(bytes[i].ToString("X2", CultureInfo.InvariantCulture));
        }

        return text.Append(']').ToString();
    }

    private static string Timestamp(TimestampArray array, int index)
    {
        var value = array.GetTimestamp(index)!.Value;
        var zone = ((TimestampType)array.Data.DataType).Timezone;
        var local = string.IsNullOrEmpty(zone) ? value.DateTime : TimeZoneInfo.ConvertTime(value, Zone(zone)).DateTime;
        var text = local.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture).TrimEnd('0');
        return text.EndsWith('.') ? text[..^1] : text;
    }

    private static TimeZoneInfo Zone(string id)
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return TimeZoneInfo.Utc;
        }
    }

    private static string List(IArrowArray values)
        => "[" + string.Join(", ", Enumerable.Range(0, values.Length).Select(i => Format(values, i))) + "]";

    private static string Map(MapArray array, int index)
    {
        var entries = (StructArray)array.GetSlicedValues(index);
        return "{" + string.Join(", ", Enumerable.Range(0, entries.Length).Select(i => $"{Format(entries.Fields[0], i)} -> {Format(entries.Fields[1], i)}")) + "}";
    }
}
