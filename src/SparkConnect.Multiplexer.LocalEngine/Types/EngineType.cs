using System.Globalization;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;
using Spark.Connect;

namespace SparkConnect.Multiplexer.LocalEngine.Types;

/// <summary>The Spark type families the engine can carry from DuckDB to Arrow and back.</summary>
internal enum TypeKind
{
    Null,
    Boolean,
    Byte,
    Short,
    Integer,
    Long,
    Float,
    Double,
    Decimal,
    String,
    Binary,
    Date,
    Timestamp,
    TimestampNtz,
    Array,
    Struct,
    Map,
}

/// <summary>A named, typed column (or struct field).</summary>
internal sealed record EngineField(string Name, EngineType Type, bool Nullable = true);

/// <summary>
/// One Spark data type as the engine knows it: the meeting point of DuckDB type names, Spark's DataType proto,
/// Spark's simple type strings and Arrow types.
/// </summary>
internal sealed record EngineType(TypeKind Kind)
{
    public static readonly EngineType Null = new(TypeKind.Null);
    public static readonly EngineType Boolean = new(TypeKind.Boolean);
    public static readonly EngineType Byte = new(TypeKind.Byte);
    public static readonly EngineType Short = new(TypeKind.Short);
    public static readonly EngineType Integer = new(TypeKind.Integer);
    public static readonly EngineType Long = new(TypeKind.Long);
    public static readonly EngineType Float = new(TypeKind.Float);
    public static readonly EngineType Double = new(TypeKind.Double);
    public static readonly EngineType String = new(TypeKind.String);
    public static readonly EngineType Binary = new(TypeKind.Binary);
    public static readonly EngineType Date = new(TypeKind.Date);
    public static readonly EngineType Timestamp = new(TypeKind.Timestamp);
    public static readonly EngineType TimestampNtz = new(TypeKind.TimestampNtz);

    public int Precision { get; init; }

    public int Scale { get; init; }

    public EngineType? Element { get; init; }

    public EngineType? Key { get; init; }

    public EngineType? Value { get; init; }

    public IReadOnlyList<EngineField> Fields { get; init; } = [];

    /// <summary>
    /// Whether the DuckDB values of this column must be converted on the way out (for example HUGEINT to
    /// decimal): the engine then casts in SQL so the reader sees the Spark-shaped value.
    /// </summary>
    public string? DuckDbCast { get; init; }

    public static EngineType Decimal(int precision, int scale) => new(TypeKind.Decimal) { Precision = precision, Scale = scale };

    public static EngineType ArrayOf(EngineType element) => new(TypeKind.Array) { Element = element };

    public static EngineType MapOf(EngineType key, EngineType value) => new(TypeKind.Map) { Key = key, Value = value };

    public static EngineType StructOf(IReadOnlyList<EngineField> fields) => new(TypeKind.Struct) { Fields = fields };

    /// <summary>Whether any part of this type needed a DuckDB-side cast.</summary>
    public bool NeedsCast => DuckDbCast is not null
        || (Element?.NeedsCast ?? false) || (Key?.NeedsCast ?? false) || (Value?.NeedsCast ?? false)
        || Fields.Any(f => f.Type.NeedsCast);

    /// <summary>Spark's simple string (<c>DataType.simpleString</c>), e.g. <c>array&lt;int&gt;</c>.</summary>
    public string SimpleString => Kind switch
    {
        TypeKind.Null => "void",
        TypeKind.Boolean => "boolean",
        TypeKind.Byte => "tinyint",
        TypeKind.Short => "smallint",
        TypeKind.Integer => "int",
        TypeKind.Long => "bigint",
        TypeKind.Float => "float",
        TypeKind.Double => "double",
        TypeKind.Decimal => string.Create(CultureInfo.InvariantCulture, $"decimal({Precision},{Scale})"),
        TypeKind.String => "string",
        TypeKind.Binary => "binary",
        TypeKind.Date => "date",
        TypeKind.Timestamp => "timestamp",
        TypeKind.TimestampNtz => "timestamp_ntz",
        TypeKind.Array => $"array<{Element!.SimpleString}>",
        TypeKind.Map => $"map<{Key!.SimpleString},{Value!.SimpleString}>",
        TypeKind.Struct => $"struct<{string.Join(',', Fields.Select(f => $"{f.Name}:{f.Type.SimpleString}"))}>",
        _ => throw new InvalidOperationException($"Unknown type kind {Kind}."),
    };

    /// <summary>Spark's <c>typeName</c> used in <c>treeString</c>: like the simple string, long names for integers.</summary>
    public string TreeName => Kind switch
    {
        TypeKind.Byte => "byte",
        TypeKind.Short => "short",
        TypeKind.Integer => "integer",
        TypeKind.Long => "long",
        TypeKind.Array => "array",
        TypeKind.Map => "map",
        TypeKind.Struct => "struct",
        _ => SimpleString,
    };

    /// <summary>The DuckDB type name to CAST a value to this type.</summary>
    public string DuckDbName => Kind switch
    {
        TypeKind.Null => "INTEGER",
        TypeKind.Boolean => "BOOLEAN",
        TypeKind.Byte => "TINYINT",
        TypeKind.Short => "SMALLINT",
        TypeKind.Integer => "INTEGER",
        TypeKind.Long => "BIGINT",
        TypeKind.Float => "FLOAT",
        TypeKind.Double => "DOUBLE",
        TypeKind.Decimal => string.Create(CultureInfo.InvariantCulture, $"DECIMAL({Precision},{Scale})"),
        TypeKind.String => "VARCHAR",
        TypeKind.Binary => "BLOB",
        TypeKind.Date => "DATE",
        TypeKind.Timestamp => "TIMESTAMPTZ",
        TypeKind.TimestampNtz => "TIMESTAMP",
        TypeKind.Array => $"{Element!.DuckDbName}[]",
        TypeKind.Map => $"MAP({Key!.DuckDbName}, {Value!.DuckDbName})",
        TypeKind.Struct => $"STRUCT({string.Join(", ", Fields.Select(f => $"{SqlText.QuoteIdentifier(f.Name)} {f.Type.DuckDbName}"))})",
        _ => throw new InvalidOperationException($"Unknown type kind {Kind}."),
    };

    /// <summary>Spark's DataType proto for this type.</summary>
    public DataType ToProto()
    {
        return Kind switch
        {
            TypeKind.Null => new DataType { Null = new DataType.Types.NULL() },
            TypeKind.Boolean => new DataType { Boolean = new DataType.Types.Boolean() },
            TypeKind.Byte => new DataType { Byte = new DataType.Types.Byte() },
            TypeKind.Short => new DataType { Short = new DataType.Types.Short() },
            TypeKind.Integer => new DataType { Integer = new DataType.Types.Integer() },
            TypeKind.Long => new DataType { Long = new DataType.Types.Long() },
            TypeKind.Float => new DataType { Float = new DataType.Types.Float() },
            TypeKind.Double => new DataType { Double = new DataType.Types.Double() },
            TypeKind.Decimal => new DataType { Decimal = new DataType.Types.Decimal { Precision = Precision, Scale = Scale } },
            TypeKind.String => new DataType { String = new DataType.Types.String() },
            TypeKind.Binary => new DataType { Binary = new DataType.Types.Binary() },
            TypeKind.Date => new DataType { Date = new DataType.Types.Date() },
            TypeKind.Timestamp => new DataType { Timestamp = new DataType.Types.Timestamp() },
            TypeKind.TimestampNtz => new DataType { TimestampNtz = new DataType.Types.TimestampNTZ() },
            TypeKind.Array => new DataType { Array = new DataType.Types.Array { ElementType = Element!.ToProto(), ContainsNull = true } },
            TypeKind.Map => new DataType { Map = new DataType.Types.Map { KeyType = Key!.ToProto(), ValueType = Value!.ToProto(), ValueContainsNull = true } },
            TypeKind.Struct => StructProto(Fields),
            _ => throw new InvalidOperationException($"Unknown type kind {Kind}."),
        };
    }

    /// <summary>A Spark struct DataType for a list of columns (the schema of a relation).</summary>
    public static DataType StructProto(IEnumerable<EngineField> fields)
    {
        var result = new DataType.Types.Struct();
        foreach (var field in fields)
        {
            result.Fields.Add(new DataType.Types.StructField { Name = field.Name, DataType = field.Type.ToProto(), Nullable = field.Nullable });
        }

        return new DataType { Struct = result };
    }

    /// <summary>Reads Spark's DataType proto (for casts and local relations).</summary>
    public static EngineType FromProto(DataType type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return type.KindCase switch
        {
            DataType.KindOneofCase.Null => Null,
            DataType.KindOneofCase.Boolean => Boolean,
            DataType.KindOneofCase.Byte => Byte,
            DataType.KindOneofCase.Short => Short,
            DataType.KindOneofCase.Integer => Integer,
            DataType.KindOneofCase.Long => Long,
            DataType.KindOneofCase.Float => Float,
            DataType.KindOneofCase.Double => Double,
            DataType.KindOneofCase.Decimal => Decimal(type.Decimal.HasPrecision ? type.Decimal.Precision : 10, type.Decimal.HasScale ? type.Decimal.Scale : 0),
            DataType.KindOneofCase.String or DataType.KindOneofCase.Char or DataType.KindOneofCase.VarChar => String,
            DataType.KindOneofCase.Binary => Binary,
            DataType.KindOneofCase.Date => Date,
            DataType.KindOneofCase.Timestamp => Timestamp,
            DataType.KindOneofCase.TimestampNtz => TimestampNtz,
            DataType.KindOneofCase.Array => ArrayOf(FromProto(type.Array.ElementType)),
            DataType.KindOneofCase.Map => MapOf(FromProto(type.Map.KeyType), FromProto(type.Map.ValueType)),
            DataType.KindOneofCase.Struct => StructOf([.. type.Struct.Fields.Select(f => new EngineField(f.Name, FromProto(f.DataType), f.Nullable))]),
            DataType.KindOneofCase.Unparsed => SparkDdlParser.ParseType(type.Unparsed.DataTypeString),
            _ => throw new EngineException(ErrorClasses.UnsupportedDataType, $"The data type {type.KindCase} is not supported by the local engine.", new() { ["typeName"] = type.KindCase.ToString() }),
        };
    }

    /// <summary>The Arrow type Spark uses for this type (timestamps in microseconds, as Spark sends them).</summary>
    public IArrowType ToArrow(string timeZone)
    {
        return Kind switch
        {
            TypeKind.Null => NullType.Default,
            TypeKind.Boolean => BooleanType.Default,
            TypeKind.Byte => Int8Type.Default,
            TypeKind.Short => Int16Type.Default,
            TypeKind.Integer => Int32Type.Default,
            TypeKind.Long => Int64Type.Default,
            TypeKind.Float => FloatType.Default,
            TypeKind.Double => DoubleType.Default,
            TypeKind.Decimal => new Decimal128Type(Precision, Scale),
            TypeKind.String => StringType.Default,
            TypeKind.Binary => BinaryType.Default,
            TypeKind.Date => Date32Type.Default,
            TypeKind.Timestamp => new TimestampType(TimeUnit.Microsecond, timeZone),
            TypeKind.TimestampNtz => new TimestampType(TimeUnit.Microsecond, (string?)null),
            TypeKind.Array => new ListType(new Field("element", Element!.ToArrow(timeZone), true)),
            TypeKind.Map => new MapType(new Field("key", Key!.ToArrow(timeZone), false), new Field("value", Value!.ToArrow(timeZone), true)),
            TypeKind.Struct => new StructType([.. Fields.Select(f => f.ToArrow(timeZone))]),
            _ => throw new InvalidOperationException($"Unknown type kind {Kind}."),
        };
    }

    /// <summary>Reads an Arrow type (the schema of a local relation sent by a client).</summary>
    public static EngineType FromArrow(IArrowType type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return type switch
        {
            NullType => Null,
            BooleanType => Boolean,
            Int8Type => Byte,
            Int16Type or UInt8Type => Short,
            Int32Type or UInt16Type => Integer,
            Int64Type or UInt32Type => Long,
            FloatType or HalfFloatType => Float,
            DoubleType => Double,
            Decimal128Type d => Decimal(d.Precision, d.Scale),
            StringType or LargeStringType or StringViewType => String,
            BinaryType or LargeBinaryType or BinaryViewType or FixedSizeBinaryType => Binary,
            Date32Type or Date64Type => Date,
            TimestampType t => string.IsNullOrEmpty(t.Timezone) ? TimestampNtz : Timestamp,
            MapType m => MapOf(FromArrow(m.KeyField.DataType), FromArrow(m.ValueField.DataType)),
            ListType l => ArrayOf(FromArrow(l.ValueDataType)),
            LargeListType l => ArrayOf(FromArrow(l.ValueDataType)),
            FixedSizeListType l => ArrayOf(FromArrow(l.ValueDataType)),

            // A dictionary-encoded column is a column of its values (pandas categoricals arrive so).
            DictionaryType d => FromArrow(d.ValueType),
            StructType s => StructOf([.. s.Fields.Select(f => new EngineField(f.Name, FromArrow(f.DataType), f.IsNullable))]),
            _ => throw new EngineException(ErrorClasses.UnsupportedDataType, $"The Arrow type {type.Name} is not supported by the local engine.", new() { ["typeName"] = type.Name }),
        };
    }

    /// <summary>Spark's <c>StructType.treeString</c> for a schema.</summary>
    public static string TreeString(IReadOnlyList<EngineField> fields, int maxLevel = int.MaxValue)
    {
        var builder = new StringBuilder("root\n");
        AppendTree(builder, fields, " |", 1, maxLevel);
        return builder.ToString();
    }

    private static void AppendTree(StringBuilder builder, IReadOnlyList<EngineField> fields, string prefix, int level, int maxLevel)
    {
        if (level > maxLevel)
        {
            return;
        }

        foreach (var field in fields)
        {
            builder.Append(CultureInfo.InvariantCulture, $"{prefix}-- {field.Name}: {field.Type.TreeName} (nullable = {(field.Nullable ? "true" : "false")})\n");
            AppendChild(builder, field.Type, prefix + "    |", level + 1, maxLevel);
        }
    }

    private static void AppendChild(StringBuilder builder, EngineType type, string prefix, int level, int maxLevel)
    {
        if (level > maxLevel)
        {
            return;
        }

        switch (type.Kind)
        {
            case TypeKind.Struct:
                AppendTree(builder, type.Fields, prefix, level, maxLevel);
                break;
            case TypeKind.Array:
                builder.Append(CultureInfo.InvariantCulture, $"{prefix}-- element: {type.Element!.TreeName} (containsNull = true)\n");
                AppendChild(builder, type.Element, prefix + "    |", level + 1, maxLevel);
                break;
            case TypeKind.Map:
                builder.Append(CultureInfo.InvariantCulture, $"{prefix}-- key: {type.Key!.TreeName}\n");
                AppendChild(builder, type.Key, prefix + "    |", level + 1, maxLevel);
                builder.Append(CultureInfo.InvariantCulture, $"{prefix}-- value: {type.Value!.TreeName} (valueContainsNull = true)\n");
                AppendChild(builder, type.Value, prefix + "    |", level + 1, maxLevel);
                break;
            default:
                break;
        }
    }
}

/// <summary>Arrow helpers for engine fields.</summary>
internal static class EngineFieldExtensions
{
    public static Field ToArrow(this EngineField field, string timeZone) => new(field.Name, field.Type.ToArrow(timeZone), field.Nullable);

    public static Schema ToArrowSchema(this IReadOnlyList<EngineField> fields, string timeZone)
        => new([.. fields.Select(f => f.ToArrow(timeZone))], null);
}
