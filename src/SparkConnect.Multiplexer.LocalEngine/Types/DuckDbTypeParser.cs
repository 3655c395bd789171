using System.Globalization;

namespace SparkConnect.Multiplexer.LocalEngine.Types;

/// <summary>
/// Reads DuckDB type names (as <c>DESCRIBE</c> prints them, e.g. <c>STRUCT(a INTEGER, b VARCHAR[])</c>) into Spark
/// types. DuckDB types without a Spark twin map to the nearest Spark type and carry the cast that makes DuckDB
/// produce that shape (unsigned integers widen, HUGEINT becomes decimal(38,0), everything exotic becomes string).
/// </summary>
internal static class DuckDbTypeParser
{
    public static EngineType Parse(string duckDbType)
    {
        ArgumentNullException.ThrowIfNull(duckDbType);
        var reader = new TypeReader(duckDbType);
        var type = reader.ReadType();
        reader.SkipSpace();
        return reader.AtEnd ? type : throw new FormatException($"Unexpected text after the DuckDB type in '{duckDbType}'.");
    }

    private sealed class TypeReader(string text)
    {
        private int _position;

        public bool AtEnd => _position >= text.Length;

        public void SkipSpace()
        {
            while (!AtEnd && char.IsWhiteSpace(text[_position]))
            {
                _position++;
            }
        }

        public EngineType ReadType()
        {
            SkipSpace();
            var name = ReadWord().ToUpperInvariant();
            EngineType type;
            switch (name)
            {
                case "STRUCT":
                    type = EngineType.StructOf(ReadStructFields());
                    if (type.NeedsCast)
                    {
                        type = type with { DuckDbCast = type.DuckDbName };
                    }

                    break;
                case "MAP":
                    Expect('(');
                    var key = ReadType();
                    Expect(',');
                    var value = ReadType();
                    Expect(')');
                    type = EngineType.MapOf(key, value);
                    if (type.NeedsCast)
                    {
                        type = type with { DuckDbCast = type.DuckDbName };
                    }

                    break;
                case "DECIMAL" or "NUMERIC":
                    var arguments = ReadNumberArguments();
                    type = EngineType.Decimal(arguments.Count > 0 ? arguments[0] : 18, arguments.Count > 1 ? arguments[1] : 3);
                    break;
                case "TIMESTAMP":
                    SkipSpace();
                    if (TryReadPhrase("WITH TIME ZONE"))
                    {
                        type = EngineType.Timestamp;
                    }
                    else
                    {
                        type = EngineType.TimestampNtz;
                    }

                    break;
                default:
                    // Parameterised exotic types (ENUM('a'), UNION(...), VARCHAR(10)) keep their arguments out of the way.
                    var raw = name + SkipArguments();
                    type = Scalar(name, raw);
                    break;
            }

            // Array suffixes: T[] (list) and T[n] (fixed-size array) both read as Spark arrays.
            while (true)
            {
                SkipSpace();
                if (AtEnd || text[_position] != '[')
                {
                    break;
                }

                var close = text.IndexOf(']', _position);
                _position = close + 1;
                var element = type;
                type = EngineType.ArrayOf(element);
                if (element.NeedsCast)
                {
                    type = type with { DuckDbCast = type.DuckDbName };
                }
            }

            return type;
        }

        private static EngineType Scalar(string name, string raw) => name switch
        {
            "BOOLEAN" or "BOOL" => EngineType.Boolean,
            "TINYINT" or "INT1" => EngineType.Byte,
            "SMALLINT" or "INT2" or "SHORT" => EngineType.Short,
            "INTEGER" or "INT4" or "INT" or "SIGNED" => EngineType.Integer,
            "BIGINT" or "INT8" or "LONG" => EngineType.Long,
            "UTINYINT" => EngineType.Short with { DuckDbCast = "SMALLINT" },
            "USMALLINT" => EngineType.Integer with { DuckDbCast = "INTEGER" },
            "UINTEGER" => EngineType.Long with { DuckDbCast = "BIGINT" },
            "UBIGINT" => EngineType.Decimal(20, 0) with { DuckDbCast = "DECIMAL(20,0)" },
            "HUGEINT" or "UHUGEINT" or "INT128" => EngineType.Decimal(38, 0) with { DuckDbCast = "DECIMAL(38,0)" },
            "FLOAT" or "FLOAT4" or "REAL" => EngineType.Float,
            "DOUBLE" or "FLOAT8" => EngineType.Double,
            "VARCHAR" or "STRING" or "TEXT" or "CHAR" or "BPCHAR" => EngineType.String,
            "BLOB" or "BYTEA" or "BINARY" or "VARBINARY" => EngineType.Binary,
            "DATE" => EngineType.Date,
            "TIMESTAMPTZ" => EngineType.Timestamp,
            "TIMESTAMP_S" or "TIMESTAMP_MS" or "TIMESTAMP_NS" or "DATETIME" => EngineType.TimestampNtz with { DuckDbCast = "TIMESTAMP" },
            "NULL" or "\"NULL\"" => EngineType.Null,
            _ => EngineType.String with { DuckDbCast = "VARCHAR" },
        };

        private List<EngineField> ReadStructFields()
        {
            var fields = new List<EngineField>();
            Expect('(');
            while (true)
            {
                SkipSpace();
                var name = ReadName();
                var type = ReadType();
                fields.Add(new EngineField(name, type));
                SkipSpace();
                if (Peek() == ',')
                {
                    _position++;
                    continue;
                }

                Expect(')');
                return fields;
            }
        }

        private string ReadName()
        {
            SkipSpace();
            if (Peek() != '"')
            {
                return ReadWord();
            }

            _position++;
            var builder = new System.Text.StringBuilder();
            while (!AtEnd)
            {
                var c = text[_position++];
                if (c == '"')
                {
                    if (Peek() == '"')
                    {
                        builder.Append('"');
                        _position++;
                        continue;
                    }

                    break;
                }

                builder.Append(c);
            }

            return builder.ToString();
        }

        private string ReadWord()
        {
            SkipSpace();
            var start = _position;
            while (!AtEnd && (char.IsLetterOrDigit(text[_position]) || text[_position] == '_'))
            {
                _position++;
            }

            return start == _position ? throw new FormatException($"Expected a type name at {start} in '{text}'.") : text[start.._position];
        }

        private List<int> ReadNumberArguments()
        {
            var raw = SkipArguments();
            return raw.Length == 0
                ? []
                : [.. raw.Trim('(', ')').Split(',').Select(p => int.Parse(p.Trim(), CultureInfo.InvariantCulture))];
        }

        private string SkipArguments()
        {
            SkipSpace();
            if (Peek() != '(')
            {
                return "";
            }

            var start = _position;
            var depth = 0;
            var quoted = false;
            while (!AtEnd)
            {
                var c = text[_position++];
                if (c == '\'')
                {
                    quoted = !quoted;
                }
                else if (!quoted && c == '(')
                {
                    depth++;
                }
                else if (!quoted && c == ')' && --depth == 0)
                {
                    break;
                }
            }

            return text[start.._position];
        }

        private bool TryReadPhrase(string phrase)
        {
            if (string.Compare(text, _position, phrase, 0, phrase.Length, StringComparison.OrdinalIgnoreCase) == 0)
            {
                _position += phrase.Length;
                return true;
            }

            return false;
        }

        private char Peek() => AtEnd ? '\0' : text[_position];

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c)
            {
                throw new FormatException($"Expected '{c}' at {_position} in '{text}'.");
            }

            _position++;
        }
    }
}
