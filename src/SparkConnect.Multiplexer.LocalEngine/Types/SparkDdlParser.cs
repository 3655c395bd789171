using System.Globalization;
using System.Text.Json;

namespace SparkConnect.Multiplexer.LocalEngine.Types;

/// <summary>
/// Reads Spark's type strings: DDL column lists (<c>a INT, b STRING NOT NULL</c>), single types
/// (<c>array&lt;map&lt;string,int&gt;&gt;</c>, <c>struct&lt;a:int&gt;</c>) and the JSON form PySpark sends with
/// local relations.
/// </summary>
internal static class SparkDdlParser
{
    /// <summary>Parses a DDL schema; a lone type (e.g. "int") is returned as that type, not a struct.</summary>
    public static EngineType ParseDdl(string ddl)
    {
        ArgumentNullException.ThrowIfNull(ddl);
        var text = ddl.Trim();
        if (text.StartsWith('{'))
        {
            return ParseJson(text);
        }

        // Try a single type first (Spark's DataType.fromDDL does the same), then a column list.
        try
        {
            return ParseType(text);
        }
        catch (EngineException)
        {
            var reader = new Reader(text);
            var fields = reader.ReadColumnList();
            return EngineType.StructOf(fields);
        }
    }

    /// <summary>Parses one Spark type string.</summary>
    public static EngineType ParseType(string text)
    {
        var reader = new Reader(text);
        var type = reader.ReadType();
        reader.SkipSpace();
        return reader.AtEnd ? type : throw ParseError(text, reader.Position);
    }

    private static EngineException ParseError(string text, int position)
        => new(ErrorClasses.ParseSyntaxError, $"Syntax error in the data type string '{text}' at position {position}.", new() { ["error"] = text, ["hint"] = "" });

    private static EngineType ParseJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return FromJson(document.RootElement);
    }

    private static EngineType FromJson(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            return ParseType(element.GetString()!);
        }

        var kind = element.GetProperty("type").GetString();
        return kind switch
        {
            "struct" => EngineType.StructOf([.. element.GetProperty("fields").EnumerateArray().Select(f => new EngineField(
                f.GetProperty("name").GetString()!,
                FromJson(f.GetProperty("type")),
                !f.TryGetProperty("nullable", out var n) || n.GetBoolean()))]),
            "array" => EngineType.ArrayOf(FromJson(element.GetProperty("elementType"))),
            "map" => EngineType.MapOf(FromJson(element.GetProperty("keyType")), FromJson(element.GetProperty("valueType"))),
            _ => throw new EngineException(ErrorClasses.UnsupportedDataType, $"The JSON data type '{kind}' is not supported by the local engine.", new() { ["typeName"] = kind ?? "" }),
        };
    }

    private sealed class Reader(string text)
    {
        public int Position { get; private set; }

        public bool AtEnd => Position >= text.Length;

        public void SkipSpace()
        {
            while (!AtEnd && char.IsWhiteSpace(text[Position]))
            {
                Position++;
            }
        }

        public List<EngineField> ReadColumnList()
        {
            var fields = new List<EngineField>();
            while (true)
            {
                var name = ReadName();
                SkipSpace();
                if (Peek() == ':')
                {
                    Position++;
                }

                var type = ReadType();
                var nullable = true;
                SkipSpace();
                if (TryKeyword("NOT"))
                {
                    SkipSpace();
                    if (!TryKeyword("NULL"))
                    {
                        throw ParseError(text, Position);
                    }

                    nullable = false;
                }

                fields.Add(new EngineField(name, type, nullable));
                SkipSpace();
                if (AtEnd)
                {
                    return fields;
                }

                if (Peek() != ',')
                {
                    throw ParseError(text, Position);
                }

                Position++;
            }
        }

        public EngineType ReadType()
        {
            var word = ReadWord().ToUpperInvariant();
            switch (word)
            {
                case "ARRAY":
                    Expect('<');
                    var element = ReadType();
                    Expect('>');
                    return EngineType.ArrayOf(element);
                case "MAP":
                    Expect('<');
                    var key = ReadType();
                    Expect(',');
                    var value = ReadType();
                    Expect('>');
                    return EngineType.MapOf(key, value);
                case "STRUCT":
                    Expect('<');
                    var fields = new List<EngineField>();
                    SkipSpace();
                    while (Peek() != '>')
                    {
                        var name = ReadName();
                        SkipSpace();
                        if (Peek() == ':')
                        {
                            Position++;
                        }

                        var type = ReadType();
                        var nullable = true;
                        SkipSpace();
                        if (TryKeyword("NOT"))
                        {
                            SkipSpace();
                            _ = TryKeyword("NULL");
                            nullable = false;
                        }

                        fields.Add(new EngineField(name, type, nullable));
                        SkipSpace();
                        if (Peek() == ',')
                        {
                            Position++;
                        }

                        SkipSpace();
                    }

                    Expect('>');
                    return EngineType.StructOf(fields);
                case "DECIMAL" or "DEC" or "NUMERIC":
                    var numbers = ReadNumbers();
                    return EngineType.Decimal(numbers.Count > 0 ? numbers[0] : 10, numbers.Count > 1 ? numbers[1] : 0);
                case "CHAR" or "VARCHAR" or "CHARACTER":
                    _ = ReadNumbers();
                    return EngineType.String;
                default:
                    return word switch
                    {
                        "BOOLEAN" or "BOOL" => EngineType.Boolean,
                        "TINYINT" or "BYTE" => EngineType.Byte,
                        "SMALLINT" or "SHORT" => EngineType.Short,
                        "INT" or "INTEGER" => EngineType.Integer,
                        "BIGINT" or "LONG" => EngineType.Long,
                        "FLOAT" or "REAL" => EngineType.Float,
                        "DOUBLE" => EngineType.Double,
                        "STRING" => EngineType.String,
                        "BINARY" => EngineType.Binary,
                        "DATE" => EngineType.Date,
                        "TIMESTAMP" or "TIMESTAMP_LTZ" => EngineType.Timestamp,
                        "TIMESTAMP_NTZ" => EngineType.TimestampNtz,
                        "VOID" or "NULL" => EngineType.Null,
                        _ => throw new EngineException(ErrorClasses.UnsupportedDataType, $"Unsupported data type \"{word}\".", new() { ["typeName"] = word }),
                    };
            }
        }

        private List<int> ReadNumbers()
        {
            SkipSpace();
            if (Peek() != '(')
            {
                return [];
            }

            var close = text.IndexOf(')', Position);
            if (close < 0)
            {
                throw ParseError(text, Position);
            }

            var inner = text[(Position + 1)..close];
            Position = close + 1;
            return [.. inner.Split(',').Select(p => int.Parse(p.Trim(), CultureInfo.InvariantCulture))];
        }

        private string ReadName()
        {
            SkipSpace();
            if (Peek() == '`')
            {
                var end = text.IndexOf('`', Position + 1);
                if (end < 0)
                {
                    throw ParseError(text, Position);
                }

                var name = text[(Position + 1)..end];
                Position = end + 1;
                return name;
            }

            return ReadWord();
        }

        private string ReadWord()
        {
            SkipSpace();
            var start = Position;
            while (!AtEnd && (char.IsLetterOrDigit(text[Position]) || text[Position] == '_'))
            {
                Position++;
            }

            return start == Position ? throw ParseError(text, start) : text[start..Position];
        }

        private bool TryKeyword(string keyword)
        {
            if (string.Compare(text, Position, keyword, 0, keyword.Length, StringComparison.OrdinalIgnoreCase) == 0
                && (Position + keyword.Length == text.Length || !char.IsLetterOrDigit(text[Position + keyword.Length])))
            {
                Position += keyword.Length;
                return true;
            }

            return false;
        }

        private char Peek() => AtEnd ? '\0' : text[Position];

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c)
            {
                throw ParseError(text, Position);
            }

            Position++;
        }
    }
}
