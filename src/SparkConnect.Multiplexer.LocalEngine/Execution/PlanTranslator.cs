using System.Globalization;
using System.Text;
using Google.Protobuf;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Execution;

/// <summary>What a relation becomes: DuckDB SQL, or a show_string over such SQL.</summary>
internal sealed record QueryPlan(string Sql, bool IsLocal = false)
{
    /// <summary>Set when the root is show_string: the engine formats the input's rows into one string.</summary>
    public ShowString? Show { get; init; }

    /// <summary>The input of <see cref="Show"/>.</summary>
    public QueryPlan? ShowInput { get; init; }

    /// <summary>A relation with no columns (the result of a DDL command); DuckDB has no zero-column SELECT.</summary>
    public bool NoColumns { get; init; }
}

/// <summary>
/// Translates Spark Connect relations and expressions into DuckDB SQL. Each relation becomes a sub-select, so the
/// translation composes; anything without a faithful translation fails with UNIMPLEMENTED naming it.
/// </summary>
internal static class PlanTranslator
{
    public const string EmptySql = "SELECT 1 AS \"__empty\" WHERE false";

    public static QueryPlan Translate(Relation relation)
    {
        ArgumentNullException.ThrowIfNull(relation);
        if (relation.RelTypeCase == Relation.RelTypeOneofCase.ShowString)
        {
            var show = relation.ShowString;
            return new QueryPlan("SELECT '' AS show_string") { Show = show, ShowInput = Translate(show.Input) };
        }

        if (relation.RelTypeCase == Relation.RelTypeOneofCase.LocalRelation && LocalRelationHasNoColumns(relation.LocalRelation))
        {
            return new QueryPlan(EmptySql, IsLocal: true) { NoColumns = true };
        }

        return new QueryPlan(ToSql(relation), IsLocal: relation.RelTypeCase == Relation.RelTypeOneofCase.LocalRelation);
    }

    private static bool LocalRelationHasNoColumns(LocalRelation local)
        => local.HasData ? ArrowConversion.ReadIpcStream(local.Data.Memory).Fields.Count == 0 : !local.HasSchema || string.IsNullOrWhiteSpace(local.Schema);

    public static string ToSql(Relation relation)
    {
        ArgumentNullException.ThrowIfNull(relation);
        switch (relation.RelTypeCase)
        {
            case Relation.RelTypeOneofCase.Sql:
#pragma warning disable CS0612 // Older clients still send the deprecated argument fields; they must be refused, not ignored.
                if (relation.Sql.Args.Count > 0 || relation.Sql.PosArgs.Count > 0 || relation.Sql.NamedArguments.Count > 0 || relation.Sql.PosArguments.Count > 0)
                {
                    throw EngineException.Unsupported("parameterized SQL (sql relation with arguments)");
                }
#pragma warning restore CS0612

                return $"SELECT * FROM ({StripSemicolon(relation.Sql.Query)})";
            case Relation.RelTypeOneofCase.Range:
                var range = relation.Range;
                var start = range.HasStart ? range.Start : 0;
                var step = range.Step == 0 ? 1 : range.Step;
                return string.Create(CultureInfo.InvariantCulture, $"SELECT range AS id FROM range({start}, {range.End}, {step})");
            case Relation.RelTypeOneofCase.Read when relation.Read.ReadTypeCase == Read.ReadTypeOneofCase.NamedTable:
                return $"SELECT * FROM {SqlText.Identifier(relation.Read.NamedTable.UnparsedIdentifier)}";
            case Relation.RelTypeOneofCase.Limit:
                return string.Create(CultureInfo.InvariantCulture, $"SELECT * FROM ({ToSql(relation.Limit.Input)}) LIMIT {relation.Limit.Limit_}");
            case Relation.RelTypeOneofCase.Offset:
                return string.Create(CultureInfo.InvariantCulture, $"SELECT * FROM ({ToSql(relation.Offset.Input)}) OFFSET {relation.Offset.Offset_}");
            case Relation.RelTypeOneofCase.Project:
                var projections = relation.Project.Expressions.Select(ExpressionToSql);
                var from = relation.Project.Input is null ? "" : $" FROM ({ToSql(relation.Project.Input)})";
                return $"SELECT {string.Join(", ", projections)}{from}";
            case Relation.RelTypeOneofCase.Filter:
                return $"SELECT * FROM ({ToSql(relation.Filter.Input)}) WHERE {ExpressionToSql(relation.Filter.Condition)}";
            case Relation.RelTypeOneofCase.Sort:
                var orders = relation.Sort.Order.Select(SortOrderToSql);
                return $"SELECT * FROM ({ToSql(relation.Sort.Input)}) ORDER BY {string.Join(", ", orders)}";
            case Relation.RelTypeOneofCase.SubqueryAlias:
                return $"SELECT * FROM ({ToSql(relation.SubqueryAlias.Input)}) AS {SqlText.QuoteIdentifier(relation.SubqueryAlias.Alias)}";
            case Relation.RelTypeOneofCase.ToDf:
                var names = string.Join(", ", relation.ToDf.ColumnNames.Select(SqlText.QuoteIdentifier));
                return $"SELECT * FROM ({ToSql(relation.ToDf.Input)}) AS \"__to_df\"({names})";
            case Relation.RelTypeOneofCase.Aggregate:
                return AggregateToSql(relation.Aggregate);
            case Relation.RelTypeOneofCase.Deduplicate when relation.Deduplicate.ColumnNames.Count == 0:
                return $"SELECT DISTINCT * FROM ({ToSql(relation.Deduplicate.Input)})";
            case Relation.RelTypeOneofCase.LocalRelation:
                return LocalRelationToSql(relation.LocalRelation);
            case Relation.RelTypeOneofCase.SetOp:
                return SetOpToSql(relation.SetOp);
            case Relation.RelTypeOneofCase.Repartition:
                // Partitioning has no meaning on one DuckDB database: the data passes through unchanged.
                return ToSql(relation.Repartition.Input);
            default:
                throw EngineException.Unsupported($"the relation '{relation.RelTypeCase}'");
        }
    }

    private static string StripSemicolon(string sql) => sql.Trim().TrimEnd(';');

    private static string SetOpToSql(SetOperation op)
    {
        var keyword = op.SetOpType switch
        {
            SetOperation.Types.SetOpType.Union => "UNION",
            SetOperation.Types.SetOpType.Intersect => "INTERSECT",
            SetOperation.Types.SetOpType.Except => "EXCEPT",
            _ => throw EngineException.Unsupported($"the set operation '{op.SetOpType}'"),
        };
        var all = op.HasIsAll && op.IsAll ? " ALL" : "";
        var byName = op.HasByName && op.ByName ? " BY NAME" : "";
        return $"SELECT * FROM (({ToSql(op.LeftInput)}) {keyword}{all}{byName} ({ToSql(op.RightInput)}))";
    }

    private static string AggregateToSql(Aggregate aggregate)
    {
        if (aggregate.GroupType is not (Aggregate.Types.GroupType.Groupby or Aggregate.Types.GroupType.Unspecified or Aggregate.Types.GroupType.Rollup or Aggregate.Types.GroupType.Cube))
        {
            throw EngineException.Unsupported($"the aggregate group type '{aggregate.GroupType}'");
        }

        var groups = aggregate.GroupingExpressions.Select(ExpressionToSql).ToList();
        var selected = groups.Concat(aggregate.AggregateExpressions.Select(ExpressionToSql));
        var sql = new StringBuilder($"SELECT {string.Join(", ", selected)} FROM ({ToSql(aggregate.Input)})");
        if (groups.Count > 0)
        {
            var groupBy = aggregate.GroupType switch
            {
                Aggregate.Types.GroupType.Rollup => $"ROLLUP ({string.Join(", ", groups)})",
                Aggregate.Types.GroupType.Cube => $"CUBE ({string.Join(", ", groups)})",
                _ => string.Join(", ", groups),
            };
            sql.Append(" GROUP BY ").Append(groupBy);
        }

        return sql.ToString();
    }

    private static string LocalRelationToSql(LocalRelation local)
    {
        IReadOnlyList<EngineField> fields;
        List<object?[]> rows;
        if (local.HasData)
        {
            (fields, rows) = ArrowConversion.ReadIpcStream(local.Data.Memory);
        }
        else
        {
            var schema = SparkDdlParser.ParseDdl(local.Schema);
            fields = schema.Kind == TypeKind.Struct ? schema.Fields : [new EngineField("value", schema)];
            rows = [];
        }

        var columns = string.Join(", ", fields.Select(f => $"CAST(NULL AS {f.Type.DuckDbName}) AS {SqlText.QuoteIdentifier(f.Name)}"));
        if (rows.Count == 0)
        {
            return $"SELECT {columns} WHERE false";
        }

        var values = string.Join(", ", rows.Select(r => "(" + string.Join(", ", r.Select((v, i) => Literal(v, fields[i].Type))) + ")"));
        var names = string.Join(", ", fields.Select(f => SqlText.QuoteIdentifier(f.Name)));
        return $"SELECT * FROM (VALUES {values}) AS \"__local\"({names})";
    }

    /// <summary>A typed SQL literal for a value of the value model.</summary>
    public static string Literal(object? value, EngineType type)
    {
        if (value is null)
        {
            return $"CAST(NULL AS {type.DuckDbName})";
        }

        var text = type.Kind switch
        {
            TypeKind.Boolean => (bool)value ? "true" : "false",
            TypeKind.String => SqlText.QuoteString((string)value),
            TypeKind.Binary => SqlText.QuoteBlob((byte[])value),
            TypeKind.Date => SqlText.QuoteString(((DateOnly)value).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
            TypeKind.Timestamp => SqlText.QuoteString(((DateTime)value).ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00"),
            TypeKind.TimestampNtz => SqlText.QuoteString(((DateTime)value).ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture)),
            TypeKind.Float or TypeKind.Double => DoubleLiteral(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
            TypeKind.Array => "[" + string.Join(", ", ((IEnumerable<object?>)value).Select(v => Literal(v, type.Element!))) + "]",
            TypeKind.Map => "MAP {" + string.Join(", ", ((IEnumerable<KeyValuePair<object, object?>>)value).Select(p => Literal(p.Key, type.Key!) + ": " + Literal(p.Value, type.Value!))) + "}",
            TypeKind.Struct => "{" + string.Join(", ", type.Fields.Select((f, i) => SqlText.QuoteString(f.Name) + ": " + Literal(((object?[])value)[i], f.Type))) + "}",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        };
        return $"CAST({text} AS {type.DuckDbName})";
    }

    private static string DoubleLiteral(double value)
        => double.IsNaN(value) ? "'NaN'" : double.IsInfinity(value) ? (value > 0 ? "'Infinity'" : "'-Infinity'") : value.ToString("R", CultureInfo.InvariantCulture);

    private static string SortOrderToSql(Expression.Types.SortOrder order)
    {
        var descending = order.Direction == Expression.Types.SortOrder.Types.SortDirection.Descending;
        // Spark puts NULLs first when ascending and last when descending; DuckDB's default differs, so say it.
        var nullsFirst = order.NullOrdering switch
        {
            Expression.Types.SortOrder.Types.NullOrdering.SortNullsFirst => true,
            Expression.Types.SortOrder.Types.NullOrdering.SortNullsLast => false,
            _ => !descending,
        };
        return $"{ExpressionToSql(order.Child)} {(descending ? "DESC" : "ASC")} NULLS {(nullsFirst ? "FIRST" : "LAST")}";
    }

    private static readonly Dictionary<string, string> BinaryOperators = new(StringComparer.Ordinal)
    {
        ["=="] = "=", ["="] = "=", ["!="] = "<>", ["<>"] = "<>", ["<"] = "<", ["<="] = "<=", [">"] = ">", [">="] = ">=",
        ["+"] = "+", ["-"] = "-", ["*"] = "*", ["/"] = "/", ["%"] = "%", ["and"] = "AND", ["or"] = "OR",
        ["<=>"] = "IS NOT DISTINCT FROM",
    };

    private static readonly HashSet<string> PlainFunctions = new(StringComparer.OrdinalIgnoreCase)
    {
        "sum", "avg", "min", "max", "count", "abs", "lower", "upper", "length", "coalesce", "concat", "round", "floor",
        "ceil", "sqrt", "exp", "ln", "trim", "ltrim", "rtrim", "substring", "first", "last", "stddev", "variance",
        "greatest", "least", "year", "month", "day", "hour", "minute", "second", "replace", "reverse", "nullif", "ifnull",
    };

    public static string ExpressionToSql(Expression expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        switch (expression.ExprTypeCase)
        {
            case Expression.ExprTypeOneofCase.Literal:
                return LiteralToSql(expression.Literal);
            case Expression.ExprTypeOneofCase.UnresolvedAttribute:
                return SqlText.Identifier(expression.UnresolvedAttribute.UnparsedIdentifier);
            case Expression.ExprTypeOneofCase.UnresolvedStar:
                var target = expression.UnresolvedStar.HasUnparsedTarget ? expression.UnresolvedStar.UnparsedTarget : "";
                return target.Length == 0 ? "*" : SqlText.Identifier(target.TrimEnd('*').TrimEnd('.')) + ".*";
            case Expression.ExprTypeOneofCase.Alias:
                if (expression.Alias.Name.Count != 1)
                {
                    throw EngineException.Unsupported("a multi-name alias");
                }

                return $"{ExpressionToSql(expression.Alias.Expr)} AS {SqlText.QuoteIdentifier(expression.Alias.Name[0])}";
            case Expression.ExprTypeOneofCase.ExpressionString:
                return expression.ExpressionString.Expression;
            case Expression.ExprTypeOneofCase.Cast:
                var castType = expression.Cast.CastToTypeCase == Expression.Types.Cast.CastToTypeOneofCase.Type
                    ? EngineType.FromProto(expression.Cast.Type)
                    : SparkDdlParser.ParseType(expression.Cast.TypeStr);
                var cast = expression.Cast.EvalMode == Expression.Types.Cast.Types.EvalMode.Try ? "TRY_CAST" : "CAST";
                return $"{cast}({ExpressionToSql(expression.Cast.Expr)} AS {castType.DuckDbName})";
            case Expression.ExprTypeOneofCase.SortOrder:
                return SortOrderToSql(expression.SortOrder);
            case Expression.ExprTypeOneofCase.UnresolvedFunction:
                return FunctionToSql(expression.UnresolvedFunction);
            default:
                throw EngineException.Unsupported($"the expression '{expression.ExprTypeCase}'");
        }
    }

    private static string FunctionToSql(Expression.Types.UnresolvedFunction function)
    {
        var name = function.FunctionName;
        var arguments = function.Arguments.Select(ExpressionToSql).ToList();
        if (BinaryOperators.TryGetValue(name, out var op) && arguments.Count == 2)
        {
            return $"({arguments[0]} {op} {arguments[1]})";
        }

        switch (name.ToLowerInvariant())
        {
            case "not" when arguments.Count == 1:
                return $"(NOT {arguments[0]})";
            case "negative" when arguments.Count == 1:
                return $"(- {arguments[0]})";
            case "isnull" when arguments.Count == 1:
                return $"({arguments[0]} IS NULL)";
            case "isnotnull" when arguments.Count == 1:
                return $"({arguments[0]} IS NOT NULL)";
            case "mean":
                return $"avg({string.Join(", ", arguments)})";
            case "count" when function.IsDistinct:
                return $"count(DISTINCT {string.Join(", ", arguments)})";
            case "in" when arguments.Count >= 2:
                return $"({arguments[0]} IN ({string.Join(", ", arguments.Skip(1))}))";
            case "like" when arguments.Count == 2:
                return $"({arguments[0]} LIKE {arguments[1]})";
            default:
                if (PlainFunctions.Contains(name))
                {
                    return $"{name.ToLowerInvariant()}({(function.IsDistinct ? "DISTINCT " : "")}{string.Join(", ", arguments)})";
                }

                throw EngineException.Unsupported($"the function '{name}'");
        }
    }

    private static string LiteralToSql(Expression.Types.Literal literal)
    {
        return literal.LiteralTypeCase switch
        {
            Expression.Types.Literal.LiteralTypeOneofCase.Null => $"CAST(NULL AS {EngineType.FromProto(literal.Null).DuckDbName})",
            Expression.Types.Literal.LiteralTypeOneofCase.Boolean => literal.Boolean ? "true" : "false",
            Expression.Types.Literal.LiteralTypeOneofCase.Byte => $"CAST({literal.Byte} AS TINYINT)",
            Expression.Types.Literal.LiteralTypeOneofCase.Short => $"CAST({literal.Short} AS SMALLINT)",
            Expression.Types.Literal.LiteralTypeOneofCase.Integer => literal.Integer.ToString(CultureInfo.InvariantCulture),
            Expression.Types.Literal.LiteralTypeOneofCase.Long => $"CAST({literal.Long.ToString(CultureInfo.InvariantCulture)} AS BIGINT)",
            Expression.Types.Literal.LiteralTypeOneofCase.Float => $"CAST({DoubleLiteral(literal.Float)} AS FLOAT)",
            Expression.Types.Literal.LiteralTypeOneofCase.Double => $"CAST({DoubleLiteral(literal.Double)} AS DOUBLE)",
            Expression.Types.Literal.LiteralTypeOneofCase.Decimal => DecimalLiteral(literal.Decimal),
            Expression.Types.Literal.LiteralTypeOneofCase.String => SqlText.QuoteString(literal.String),
            Expression.Types.Literal.LiteralTypeOneofCase.Binary => SqlText.QuoteBlob(literal.Binary.Span),
            Expression.Types.Literal.LiteralTypeOneofCase.Date => $"(DATE '1970-01-01' + {literal.Date.ToString(CultureInfo.InvariantCulture)})",
            Expression.Types.Literal.LiteralTypeOneofCase.Timestamp => $"make_timestamptz({literal.Timestamp.ToString(CultureInfo.InvariantCulture)})",
            Expression.Types.Literal.LiteralTypeOneofCase.TimestampNtz => $"make_timestamp({literal.TimestampNtz.ToString(CultureInfo.InvariantCulture)})",
            Expression.Types.Literal.LiteralTypeOneofCase.Array => "[" + string.Join(", ", literal.Array.Elements.Select(LiteralToSql)) + "]",
            _ => throw EngineException.Unsupported($"the literal '{literal.LiteralTypeCase}'"),
        };
    }

    private static string DecimalLiteral(Expression.Types.Literal.Types.Decimal value)
    {
        var number = decimal.Parse(value.Value, NumberStyles.Float, CultureInfo.InvariantCulture);
        var scale = value.HasScale ? value.Scale : Math.Max(0, value.Value.Length - value.Value.IndexOf('.', StringComparison.Ordinal) - 1);
        var precision = value.HasPrecision ? value.Precision : Math.Max(scale + 1, value.Value.Count(char.IsDigit));
        return string.Create(CultureInfo.InvariantCulture, $"CAST({number} AS DECIMAL({precision},{scale}))");
    }

    /// <summary>A cheap semantic hash: the translated SQL without its layout (stable within one engine version).</summary>
    public static int SemanticHash(Relation relation)
    {
        var sql = ToSql(relation);
        var bytes = Encoding.UTF8.GetBytes(string.Join(' ', sql.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
        return BitConverter.ToInt32(System.Security.Cryptography.SHA256.HashData(bytes), 0);
    }

    /// <summary>Plans are the same when they translate to the same SQL.</summary>
    public static bool SameSemantics(Relation left, Relation right) => ToSql(left) == ToSql(right);

    internal static ByteString EmptyIpc(string timeZone)
    {
        var schema = new Apache.Arrow.Schema([], null);
        return ByteString.CopyFrom(ArrowConversion.ToIpcStream(schema, new Apache.Arrow.RecordBatch(schema, [], 0)));
    }
}
