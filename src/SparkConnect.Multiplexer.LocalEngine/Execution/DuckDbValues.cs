using System.Collections;
using System.Data.Common;
using System.Reflection;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Execution;

/// <summary>
/// Reads DuckDB.NET values into the engine's value model (see <see cref="ArrowConversion"/>). Lists are read
/// through <c>GetFieldValue&lt;List&lt;T?&gt;&gt;</c> because the untyped getter refuses lists that contain NULL.
/// </summary>
internal static class DuckDbValues
{
    private static readonly MethodInfo GetFieldValueMethod = typeof(DbDataReader).GetMethod(nameof(DbDataReader.GetFieldValue))!;

    /// <summary>A reader for one column: picks the typed getter once so each row pays only the call.</summary>
    public static Func<DbDataReader, object?> ColumnReader(int ordinal, EngineType type)
    {
        if (type.Kind is TypeKind.Array or TypeKind.Map)
        {
            var clr = ClrType(type);
            var getter = GetFieldValueMethod.MakeGenericMethod(clr);
            return reader => reader.IsDBNull(ordinal) ? null : Normalize(getter.Invoke(reader, [ordinal]), type);
        }

        return reader => reader.IsDBNull(ordinal) ? null : Normalize(reader.GetValue(ordinal), type);
    }

    private static Type ClrType(EngineType type) => type.Kind switch
    {
        TypeKind.Boolean => typeof(bool?),
        TypeKind.Byte => typeof(sbyte?),
        TypeKind.Short => typeof(short?),
        TypeKind.Integer => typeof(int?),
        TypeKind.Long => typeof(long?),
        TypeKind.Float => typeof(float?),
        TypeKind.Double => typeof(double?),
        TypeKind.Decimal => typeof(decimal?),
        TypeKind.Date => typeof(DateOnly?),
        TypeKind.Timestamp or TypeKind.TimestampNtz => typeof(DateTime?),
        TypeKind.Array => typeof(List<>).MakeGenericType(ClrType(type.Element!)),
        TypeKind.Map => typeof(Dictionary<,>).MakeGenericType(NonNullable(ClrType(type.Key!)), ClrType(type.Value!)),
        TypeKind.Struct => typeof(Dictionary<string, object?>),
        TypeKind.Binary => typeof(Stream),
        _ => typeof(string),
    };

    private static Type NonNullable(Type type) => Nullable.GetUnderlyingType(type) ?? type;

    /// <summary>Turns a DuckDB.NET value into the value model for <paramref name="type"/>.</summary>
    public static object? Normalize(object? value, EngineType type)
    {
        if (value is null or DBNull)
        {
            return null;
        }

        switch (type.Kind)
        {
            case TypeKind.Binary:
                if (value is Stream stream)
                {
                    using var copy = new MemoryStream();
                    stream.CopyTo(copy);
                    return copy.ToArray();
                }

                return value as byte[];
            case TypeKind.Date:
                return value switch
                {
                    DateOnly d => d,
                    DateTime dt => DateOnly.FromDateTime(dt),
                    _ => value,
                };
            case TypeKind.Timestamp:
                return value is DateTimeOffset o ? o.UtcDateTime : DateTime.SpecifyKind((DateTime)value, DateTimeKind.Utc);
            case TypeKind.TimestampNtz:
                return value is DateTimeOffset n ? n.DateTime : DateTime.SpecifyKind((DateTime)value, DateTimeKind.Unspecified);
            case TypeKind.Decimal:
                return value is System.Numerics.BigInteger big ? (decimal)big : Convert.ToDecimal(value, System.Globalization.CultureInfo.InvariantCulture);
            case TypeKind.String:
                return value as string ?? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
            case TypeKind.Array:
                var list = new List<object?>();
                foreach (var item in (IEnumerable)value)
                {
                    list.Add(Normalize(item, type.Element!));
                }

                return list;
            case TypeKind.Map:
                var pairs = new List<KeyValuePair<object, object?>>();
                foreach (var entry in (IEnumerable)value)
                {
                    var entryType = entry.GetType();
                    var key = entryType.GetProperty("Key")!.GetValue(entry);
                    var item = entryType.GetProperty("Value")!.GetValue(entry);
                    pairs.Add(new KeyValuePair<object, object?>(Normalize(key, type.Key!)!, Normalize(item, type.Value!)));
                }

                return pairs;
            case TypeKind.Struct:
                var dictionary = (IDictionary)value;
                var row = new object?[type.Fields.Count];
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] = dictionary.Contains(type.Fields[i].Name) ? Normalize(dictionary[type.Fields[i].Name], type.Fields[i].Type) : null;
                }

                return row;
            default:
                return value;
        }
    }
}
