using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Types;

/// <summary>
/// Moves row values between the engine's value model and Arrow. The value model (per <see cref="TypeKind"/>):
/// bool, sbyte, short, int, long, float, double, decimal, string, byte[], DateOnly, DateTime (UTC for timestamp,
/// unspecified for timestamp_ntz), <see cref="List{T}"/> of values for arrays, object?[] for structs (field
/// order) and <see cref="List{T}"/> of key/value pairs for maps; null is SQL NULL.
/// </summary>
internal static class ArrowConversion
{
    /// <summary>Serialises one batch as an Arrow IPC stream (schema + batch + end), the form Spark sends.</summary>
    public static byte[] ToIpcStream(Schema schema, RecordBatch batch)
    {
        using var stream = new MemoryStream();
        using (var writer = new ArrowStreamWriter(stream, schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        return stream.ToArray();
    }

    /// <summary>Builds a record batch from column-wise values.</summary>
    public static RecordBatch BuildBatch(IReadOnlyList<EngineField> fields, IReadOnlyList<List<object?>> columns, int rowCount, string timeZone)
    {
        var schema = fields.ToArrowSchema(timeZone);
        var arrays = new IArrowArray[fields.Count];
        for (var i = 0; i < fields.Count; i++)
        {
            arrays[i] = BuildArray(fields[i].Type, columns[i], timeZone);
        }

        return new RecordBatch(schema, arrays, rowCount);
    }

    public static IArrowArray BuildArray(EngineType type, IReadOnlyList<object?> values, string timeZone)
    {
        switch (type.Kind)
        {
            case TypeKind.Null:
                return new NullArray(values.Count);
            case TypeKind.Boolean:
                return Fill(new BooleanArray.Builder(), values, (b, v) => b.Append((bool)v)).Build();
            case TypeKind.Byte:
                return Fill(new Int8Array.Builder(), values, (b, v) => b.Append(Convert.ToSByte(v, System.Globalization.CultureInfo.InvariantCulture))).Build();
            case TypeKind.Short:
                return Fill(new Int16Array.Builder(), values, (b, v) => b.Append(Convert.ToInt16(v, System.Globalization.CultureInfo.InvariantCulture))).Build();
            case TypeKind.Integer:
                return Fill(new Int32Array.Builder(), values, (b, v) => b.Append(Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture))).Build();
            case TypeKind.Long:
                return Fill(new Int64Array.Builder(), values, (b, v) => b.Append(Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture))).Build();
            case TypeKind.Float:
                return Fill(new FloatArray.Builder(), values, (b, v) => b.Append(Convert.ToSingle(v, System.Globalization.CultureInfo.InvariantCulture))).Build();
            case TypeKind.Double:
                return Fill(new DoubleArray.Builder(), values, (b, v) => b.Append(Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture))).Build();
            case TypeKind.Decimal:
                return Fill(new Decimal128Array.Builder(new Decimal128Type(type.Precision, type.Scale)), values, (b, v) => b.Append(Convert.ToDecimal(v, System.Globalization.CultureInfo.InvariantCulture))).Build();
            case TypeKind.String:
                return Fill(new StringArray.Builder(), values, (b, v) => b.Append(v as string ?? Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture))).Build();
            case TypeKind.Binary:
                return Fill(new BinaryArray.Builder(), values, (b, v) => b.Append(((byte[])v).AsSpan())).Build();
            case TypeKind.Date:
                return Fill(new Date32Array.Builder(), values, (b, v) => b.Append(((DateOnly)v).ToDateTime(TimeOnly.MinValue))).Build();
            case TypeKind.Timestamp:
            case TypeKind.TimestampNtz:
                var timestampType = (TimestampType)type.ToArrow(timeZone);
                return Fill(new TimestampArray.Builder(timestampType), values, (b, v) => b.Append(new DateTimeOffset(DateTime.SpecifyKind((DateTime)v, DateTimeKind.Unspecified), TimeSpan.Zero))).Build();
            case TypeKind.Array:
                {
                    var offsets = new ArrowBuffer.Builder<int>();
                    var validity = new ArrowBuffer.BitmapBuilder();
                    var children = new List<object?>();
                    var nulls = 0;
                    offsets.Append(0);
                    foreach (var value in values)
                    {
                        if (value is IEnumerable<object?> list)
                        {
                            children.AddRange(list);
                            validity.Append(true);
                        }
                        else
                        {
                            validity.Append(false);
                            nulls++;
                        }

                        offsets.Append(children.Count);
                    }

                    var child = BuildArray(type.Element!, children, timeZone);
                    return new ListArray(type.ToArrow(timeZone), values.Count, offsets.Build(), child, validity.Build(), nulls);
                }

            case TypeKind.Struct:
                {
                    var validity = new ArrowBuffer.BitmapBuilder();
                    var columns = type.Fields.Select(_ => new List<object?>(values.Count)).ToArray();
                    var nulls = 0;
                    foreach (var value in values)
                    {
                        var row = value as object?[];
                        validity.Append(row is not null);
                        nulls += row is null ? 1 : 0;
                        for (var f = 0; f < columns.Length; f++)
                        {
                            columns[f].Add(row?[f]);
                        }
                    }

                    var children = type.Fields.Select((f, i) => BuildArray(f.Type, columns[i], timeZone)).ToArray();
                    return new StructArray(type.ToArrow(timeZone), values.Count, children, validity.Build(), nulls);
                }

            case TypeKind.Map:
                {
                    var mapType = (MapType)type.ToArrow(timeZone);
                    var offsets = new ArrowBuffer.Builder<int>();
                    var validity = new ArrowBuffer.BitmapBuilder();
                    var keys = new List<object?>();
                    var items = new List<object?>();
                    var nulls = 0;
                    offsets.Append(0);
                    foreach (var value in values)
                    {
                        if (value is IEnumerable<KeyValuePair<object, object?>> pairs)
                        {
                            foreach (var pair in pairs)
                            {
                                keys.Add(pair.Key);
                                items.Add(pair.Value);
                            }

                            validity.Append(true);
                        }
                        else
                        {
                            validity.Append(false);
                            nulls++;
                        }

                        offsets.Append(keys.Count);
                    }

                    var entries = new StructArray(
                        mapType.KeyValueType,
                        keys.Count,
                        [BuildArray(type.Key!, keys, timeZone), BuildArray(type.Value!, items, timeZone)],
                        ArrowBuffer.Empty,
                        0);
                    return new MapArray(mapType, values.Count, offsets.Build(), entries, validity.Build(), nulls);
                }

            default:
                throw new InvalidOperationException($"Unknown type kind {type.Kind}.");
        }
    }

    private static TBuilder Fill<TBuilder>(TBuilder builder, IReadOnlyList<object?> values, Action<TBuilder, object> append)
        where TBuilder : IArrowArrayBuilder
    {
        foreach (var value in values)
        {
            if (value is null)
            {
                AppendNull(builder);
            }
            else
            {
                append(builder, value);
            }
        }

        return builder;
    }

    private static void AppendNull(IArrowArrayBuilder builder)
    {
        // The typed builders share AppendNull through their generic base, not through IArrowArrayBuilder.
        switch (builder)
        {
            case BooleanArray.Builder b: b.AppendNull(); break;
            case Int8Array.Builder b: b.AppendNull(); break;
            case Int16Array.Builder b: b.AppendNull(); break;
            case Int32Array.Builder b: b.AppendNull(); break;
            case Int64Array.Builder b: b.AppendNull(); break;
            case FloatArray.Builder b: b.AppendNull(); break;
            case DoubleArray.Builder b: b.AppendNull(); break;
            case Decimal128Array.Builder b: b.AppendNull(); break;
            case StringArray.Builder b: b.AppendNull(); break;
            case BinaryArray.Builder b: b.AppendNull(); break;
            case Date32Array.Builder b: b.AppendNull(); break;
            case TimestampArray.Builder b: b.AppendNull(); break;
            default: throw new InvalidOperationException($"No null support for {builder.GetType().Name}.");
        }
    }

    /// <summary>Reads every batch of an Arrow IPC stream as rows of engine values.</summary>
    public static (IReadOnlyList<EngineField> Fields, List<object?[]> Rows) ReadIpcStream(ReadOnlyMemory<byte> data)
    {
        using var reader = new ArrowStreamReader(data);
        var rows = new List<object?[]>();
        IReadOnlyList<EngineField>? fields = null;
        while (reader.ReadNextRecordBatch() is { } batch)
        {
            using (batch)
            {
                fields ??= [.. batch.Schema.FieldsList.Select(f => new EngineField(f.Name, EngineType.FromArrow(f.DataType), f.IsNullable))];
                for (var r = 0; r < batch.Length; r++)
                {
                    var row = new object?[batch.ColumnCount];
                    for (var c = 0; c < batch.ColumnCount; c++)
                    {
                        row[c] = ReadValue(batch.Column(c), r);
                    }

                    rows.Add(row);
                }
            }
        }

        fields ??= [.. reader.Schema.FieldsList.Select(f => new EngineField(f.Name, EngineType.FromArrow(f.DataType), f.IsNullable))];
        return (fields, rows);
    }

    /// <summary>One value of an Arrow array in the engine's value model.</summary>
    public static object? ReadValue(IArrowArray array, int index)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.IsNull(index))
        {
            return null;
        }

        switch (array)
        {
            case BooleanArray a: return a.GetValue(index);
            case Int8Array a: return a.GetValue(index);
            case Int16Array a: return a.GetValue(index);
            case Int32Array a: return a.GetValue(index);
            case Int64Array a: return a.GetValue(index);
            case UInt8Array a: return (short)a.GetValue(index)!.Value;
            case UInt16Array a: return (int)a.GetValue(index)!.Value;
            case UInt32Array a: return (long)a.GetValue(index)!.Value;
            case FloatArray a: return a.GetValue(index);
            case DoubleArray a: return a.GetValue(index);
            case Decimal128Array a: return a.GetValue(index);
            case HalfFloatArray a: return (float)a.GetValue(index)!.Value;

            // Spark 4 clients send strings and binaries as large (64-bit offset) arrays; Arrow writers may send
            // views; the string forms come first as each derives from its binary form.
            case StringArray a: return a.GetString(index);
            case LargeStringArray a: return a.GetString(index);
            case StringViewArray a: return a.GetString(index);
            case BinaryArray a: return a.GetBytes(index).ToArray();
            case LargeBinaryArray a: return a.GetBytes(index).ToArray();
            case BinaryViewArray a: return a.GetBytes(index).ToArray();
            case Apache.Arrow.Arrays.FixedSizeBinaryArray a: return a.GetBytes(index).ToArray();
            case DictionaryArray a:
                return ReadValue(a.Dictionary, Convert.ToInt32(ReadValue(a.Indices, index), System.Globalization.CultureInfo.InvariantCulture));
            case Date32Array a: return a.GetDateOnly(index);
            case Date64Array a: return a.GetDateOnly(index);
            case TimestampArray a:
                {
                    var value = a.GetTimestamp(index)!.Value;
                    var type = (TimestampType)a.Data.DataType;
                    return string.IsNullOrEmpty(type.Timezone)
                        ? DateTime.SpecifyKind(value.UtcDateTime, DateTimeKind.Unspecified)
                        : value.UtcDateTime;
                }

            case MapArray a:
                {
                    var start = a.ValueOffsets[index];
                    var end = a.ValueOffsets[index + 1];
                    var pairs = new List<KeyValuePair<object, object?>>(end - start);
                    for (var i = start; i < end; i++)
                    {
                        pairs.Add(new KeyValuePair<object, object?>(ReadValue(a.Keys, i)!, ReadValue(a.Values, i)));
                    }

                    return pairs;
                }

            case LargeListArray a:
                {
                    var start = checked((int)a.ValueOffsets[index]);
                    var end = checked((int)a.ValueOffsets[index + 1]);
                    var list = new List<object?>(end - start);
                    for (var i = start; i < end; i++)
                    {
                        list.Add(ReadValue(a.Values, i));
                    }

                    return list;
                }

            case FixedSizeListArray a:
                {
                    var size = ((FixedSizeListType)a.Data.DataType).ListSize;
                    var list = new List<object?>(size);
                    for (var i = index * size; i < (index + 1) * size; i++)
                    {
                        list.Add(ReadValue(a.Values, i));
                    }

                    return list;
                }

            case ListArray a:
                {
                    var start = a.ValueOffsets[index];
                    var end = a.ValueOffsets[index + 1];
                    var list = new List<object?>(end - start);
                    for (var i = start; i < end; i++)
                    {
                        list.Add(ReadValue(a.Values, i));
                    }

                    return list;
                }

            case StructArray a:
                {
                    var row = new object?[a.Fields.Count];
                    for (var f = 0; f < row.Length; f++)
                    {
                        row[f] = ReadValue(a.Fields[f], index);
                    }

                    return row;
                }

            case NullArray:
                return null;
            default:
                throw new EngineException(ErrorClasses.UnsupportedDataType, $"The Arrow array {array.GetType().Name} is not supported by the local engine.", new() { ["typeName"] = array.Data.DataType.Name });
        }
    }
}
