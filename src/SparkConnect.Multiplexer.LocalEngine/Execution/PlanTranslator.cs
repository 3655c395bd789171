using System.Globalization;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;
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

    /// <summary>
    /// Statements run for their effect, in order, before the query (a SQL command in a root <c>sql</c> relation,
    /// a catalog call such as setCurrentDatabase): Spark runs those eagerly, when the plan is executed.
    /// </summary>
    public IReadOnlyList<string> Commands { get; init; } = [];
}

/// <summary>
/// Translates Spark Connect relations and expressions into DuckDB SQL. Each relation becomes a sub-select, so the
/// translation composes; anything without a faithful translation fails with UNIMPLEMENTED naming it. Relations
/// whose output depends on their input's columns (withColumns, drop, na.fill, describe, …) ask the session's
/// database for them through <see cref="ISessionSql"/>. One translator serves one plan.
/// </summary>
internal sealed class PlanTranslator
{
    public const string EmptySql = "SELECT 1 AS \"__empty\" WHERE false";

    private readonly ISessionSql _session;
    private readonly DataFiles _files;

    /// <summary>Which SQL alias each plan id's columns are visible under (df["col"] carries the plan id of df).</summary>
    private readonly Dictionary<long, string> _scope = [];
    private readonly List<string> _commands = [];
    private int _aliases;

    public PlanTranslator(ISessionSql session, DataFiles files)
    {
        _session = session;
        _files = files;
    }

    /// <summary>One place of a FROM clause: its SQL, the alias its columns are reached by, the SQL of its rows.</summary>
    private sealed record Source(string From, string? Alias, string Sql, IReadOnlyList<Source> Leaves);

    /// <summary>One output column of a source: how to reach it and its name.</summary>
    private sealed record SourceColumn(string Sql, string Name, EngineType Type, string? Alias);

    public QueryPlan Translate(Relation relation)
    {
        ArgumentNullException.ThrowIfNull(relation);
        switch (relation.RelTypeCase)
        {
            case Relation.RelTypeOneofCase.ShowString:
                var show = relation.ShowString;
                return new QueryPlan("SELECT '' AS show_string") { Show = show, ShowInput = Translate(show.Input) };
            case Relation.RelTypeOneofCase.LocalRelation when LocalRelationHasNoColumns(relation.LocalRelation):
                return new QueryPlan(EmptySql, IsLocal: true) { NoColumns = true };
            case Relation.RelTypeOneofCase.Sql when !IsQuery(relation.Sql.Query):
                // Spark runs a command in a root sql relation eagerly; its result has no columns.
                RefuseArguments(relation.Sql);
                return new QueryPlan(EmptySql) { NoColumns = true, Commands = [StripSemicolon(relation.Sql.Query)] };
            case Relation.RelTypeOneofCase.Catalog when IsCatalogCommand(relation.Catalog):
                _ = ToSql(relation);
                return new QueryPlan(EmptySql) { NoColumns = true, Commands = [.. _commands] };
        }

        var sql = ToSql(relation);
        return new QueryPlan(sql, IsLocal: relation.RelTypeCase == Relation.RelTypeOneofCase.LocalRelation) { Commands = [.. _commands] };
    }

    private static readonly string[] QueryKeywords = ["SELECT", "WITH", "VALUES", "FROM", "TABLE", "(", "SHOW", "DESCRIBE", "DESC", "SUMMARIZE", "EXPLAIN"];

    /// <summary>Whether SQL text is a query (it composes as a sub-select) rather than a command run for its effect.</summary>
    public static bool IsQuery(string sql)
    {
        var text = sql.TrimStart();
        while (text.StartsWith("--", StringComparison.Ordinal) || text.StartsWith("/*", StringComparison.Ordinal))
        {
            var block = text.StartsWith("/*", StringComparison.Ordinal);
            var end = block ? text.IndexOf("*/", StringComparison.Ordinal) : text.IndexOf('\n', StringComparison.Ordinal);
            text = end < 0 ? "" : text[(end + (block ? 2 : 1))..].TrimStart();
        }

        return QueryKeywords.Any(k => text.StartsWith(k, StringComparison.OrdinalIgnoreCase)
            && (k == "(" || text.Length == k.Length || !char.IsLetterOrDigit(text[k.Length])));
    }

    private static bool LocalRelationHasNoColumns(LocalRelation local)
        => local.HasData ? ArrowConversion.ReadIpcStream(local.Data.Memory).Fields.Count == 0 : !local.HasSchema || string.IsNullOrWhiteSpace(local.Schema);

    private static void RefuseArguments(SQL sql)
    {
#pragma warning disable CS0612 // Older clients still send the deprecated argument fields; they must be refused, not ignored.
        if (sql.Args.Count > 0 || sql.PosArgs.Count > 0 || sql.NamedArguments.Count > 0 || sql.PosArguments.Count > 0)
        {
            throw EngineException.Unsupported("parameterized SQL (sql relation with arguments)");
        }
#pragma warning restore CS0612
    }

    public string ToSql(Relation relation)
    {
        ArgumentNullException.ThrowIfNull(relation);
        switch (relation.RelTypeCase)
        {
            case Relation.RelTypeOneofCase.Sql when !IsQuery(relation.Sql.Query):
                // spark.sql("INSERT …").show(): Spark runs the command when the plan is resolved; its result is empty.
                RefuseArguments(relation.Sql);
                _commands.Add(StripSemicolon(relation.Sql.Query));
                return EmptySql;
            case Relation.RelTypeOneofCase.Sql:
                RefuseArguments(relation.Sql);

                // The newline keeps a trailing "-- comment" from swallowing the closing parenthesis.
                return $"SELECT * FROM (\n{StripSemicolon(relation.Sql.Query)}\n)";
            case Relation.RelTypeOneofCase.Range:
                var range = relation.Range;
                var start = range.HasStart ? range.Start : 0;
                var step = range.Step == 0 ? 1 : range.Step;

                // DuckDB's own range function, whatever the session's "range" macro (see SessionSql) says.
                return string.Create(CultureInfo.InvariantCulture, $"SELECT range AS id FROM system.main.range({start}, {range.End}, {step})");
            case Relation.RelTypeOneofCase.Read when relation.Read.IsStreaming:
                throw EngineException.Unsupported("streaming reads");
            case Relation.RelTypeOneofCase.Read when relation.Read.ReadTypeCase == Read.ReadTypeOneofCase.NamedTable:
                return $"SELECT * FROM {CatalogNames.Table(relation.Read.NamedTable.UnparsedIdentifier)}";
            case Relation.RelTypeOneofCase.Read when relation.Read.ReadTypeCase == Read.ReadTypeOneofCase.DataSource:
                return DataSourceToSql(relation.Read.DataSource);
            case Relation.RelTypeOneofCase.Limit:
                return string.Create(CultureInfo.InvariantCulture, $"SELECT * FROM ({ToSql(relation.Limit.Input)}) LIMIT {relation.Limit.Limit_}");
            case Relation.RelTypeOneofCase.Offset:
                return string.Create(CultureInfo.InvariantCulture, $"SELECT * FROM ({ToSql(relation.Offset.Input)}) OFFSET {relation.Offset.Offset_}");
            case Relation.RelTypeOneofCase.Project:
                if (relation.Project.Input is null)
                {
                    return $"SELECT {string.Join(", ", relation.Project.Expressions.Select(ExpressionToSql))}";
                }

                return Over(relation.Project.Input, source => $"SELECT {string.Join(", ", relation.Project.Expressions.Select(ExpressionToSql))} FROM {source.From}");
            case Relation.RelTypeOneofCase.Filter:
                return Over(relation.Filter.Input, source => $"SELECT * FROM {source.From} WHERE {ExpressionToSql(relation.Filter.Condition)}");
            case Relation.RelTypeOneofCase.Sort:
                return Over(relation.Sort.Input, source => $"SELECT * FROM {source.From} ORDER BY {string.Join(", ", relation.Sort.Order.Select(SortOrderToSql))}");
            case Relation.RelTypeOneofCase.SubqueryAlias:
                return $"SELECT * FROM ({ToSql(relation.SubqueryAlias.Input)}) AS {SqlText.QuoteIdentifier(relation.SubqueryAlias.Alias)}";
            case Relation.RelTypeOneofCase.ToDf:
                var names = string.Join(", ", relation.ToDf.ColumnNames.Select(SqlText.QuoteIdentifier));
                return $"SELECT * FROM ({ToSql(relation.ToDf.Input)}) AS \"__to_df\"({names})";
            case Relation.RelTypeOneofCase.Aggregate:
                return AggregateToSql(relation.Aggregate);
            case Relation.RelTypeOneofCase.Deduplicate:
                return DeduplicateToSql(relation.Deduplicate);
            case Relation.RelTypeOneofCase.LocalRelation:
                return LocalRelationToSql(relation.LocalRelation);
            case Relation.RelTypeOneofCase.SetOp:
                return SetOpToSql(relation.SetOp);
            case Relation.RelTypeOneofCase.Repartition:
                // Partitioning has no meaning on one DuckDB database: the data passes through unchanged.
                return ToSql(relation.Repartition.Input);
            case Relation.RelTypeOneofCase.RepartitionByExpression:
                return ToSql(relation.RepartitionByExpression.Input);
            case Relation.RelTypeOneofCase.Hint:
                // Hints steer Spark's planner (broadcast, coalesce, …); DuckDB plans on its own, so they change nothing.
                return ToSql(relation.Hint.Input);
            case Relation.RelTypeOneofCase.Join:
                return JoinToSql(relation.Join);
            case Relation.RelTypeOneofCase.WithColumns:
                return WithColumnsToSql(relation.WithColumns);
            case Relation.RelTypeOneofCase.WithColumnsRenamed:
                return WithColumnsRenamedToSql(relation.WithColumnsRenamed);
            case Relation.RelTypeOneofCase.Drop:
                return DropToSql(relation.Drop);
            case Relation.RelTypeOneofCase.FillNa:
                return FillNaToSql(relation.FillNa);
            case Relation.RelTypeOneofCase.DropNa:
                return DropNaToSql(relation.DropNa);
            case Relation.RelTypeOneofCase.Sample:
                return SampleToSql(relation.Sample);
            case Relation.RelTypeOneofCase.Describe:
                return StatisticsToSql(relation.Describe.Input, relation.Describe.Cols, ["count", "mean", "stddev", "min", "max"]);
            case Relation.RelTypeOneofCase.Summary:
                return StatisticsToSql(relation.Summary.Input, [], relation.Summary.Statistics.Count > 0 ? relation.Summary.Statistics : ["count", "mean", "stddev", "min", "25%", "50%", "75%", "max"]);
            case Relation.RelTypeOneofCase.Unpivot:
                return UnpivotToSql(relation.Unpivot);
            case Relation.RelTypeOneofCase.Catalog:
                return CatalogToSql(relation.Catalog);
            default:
                throw EngineException.Unsupported($"the relation '{relation.RelTypeCase}'");
        }
    }

    private static string StripSemicolon(string sql) => sql.Trim().TrimEnd(';');

    private string NextAlias() => "\"__t" + (++_aliases).ToString(CultureInfo.InvariantCulture) + "\"";

    /// <summary>
    /// Builds SQL over an input with the input's plan ids bound to the alias its columns are reached by, so that
    /// df["col"] resolves to the right side of a join. A join input stays a join in the FROM clause (its sides keep
    /// their aliases); a subquery alias (df.alias("a")) is the alias.
    /// </summary>
    private string Over(Relation input, Func<Source, string> build)
    {
        var undo = new List<(long PlanId, string? Previous)>();
        try
        {
            return build(SourceOf(input, inlineJoins: true, undo));
        }
        finally
        {
            Unbind(undo);
        }
    }

    private Source SourceOf(Relation input, bool inlineJoins, List<(long PlanId, string? Previous)> undo)
    {
        if (inlineJoins && input.RelTypeCase == Relation.RelTypeOneofCase.Join && input.Join.UsingColumns.Count == 0)
        {
            return JoinSource(input.Join, undo);
        }

        string alias;
        string sql;
        if (input.RelTypeCase == Relation.RelTypeOneofCase.SubqueryAlias)
        {
            alias = SqlText.QuoteIdentifier(input.SubqueryAlias.Alias);
            sql = ToSql(input.SubqueryAlias.Input);
        }
        else
        {
            alias = NextAlias();
            sql = ToSql(input);
        }

        Bind(input, alias, undo);
        var source = new Source($"({sql}) AS {alias}", alias, sql, []);
        return source with { Leaves = [source] };
    }

    private void Bind(Relation relation, string alias, List<(long PlanId, string? Previous)> undo)
    {
        foreach (var planId in PlanIds(relation))
        {
            undo.Add((planId, _scope.TryGetValue(planId, out var previous) ? previous : null));
            _scope[planId] = alias;
        }
    }

    private void Unbind(List<(long PlanId, string? Previous)> undo)
    {
        for (var i = undo.Count - 1; i >= 0; i--)
        {
            if (undo[i].Previous is { } previous)
            {
                _scope[undo[i].PlanId] = previous;
            }
            else
            {
                _scope.Remove(undo[i].PlanId);
            }
        }
    }

    /// <summary>The plan ids of a relation and of every relation inside it.</summary>
    private static HashSet<long> PlanIds(Relation relation)
    {
        var ids = new HashSet<long>();
        void Walk(IMessage message)
        {
            if (message is Relation r && r.Common is { HasPlanId: true } common)
            {
                ids.Add(common.PlanId);
            }

            foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
            {
                if (field.FieldType != FieldType.Message)
                {
                    continue;
                }

                var value = field.Accessor.GetValue(message);
                if (field.IsRepeated)
                {
                    foreach (var item in (System.Collections.IEnumerable)value)
                    {
                        if (item is IMessage child)
                        {
                            Walk(child);
                        }
                    }
                }
                else if (value is IMessage child && (field.ContainingOneof is null || field.Accessor.HasValue(message)))
                {
                    Walk(child);
                }
            }
        }

        Walk(relation);
        return ids;
    }

    /// <summary>The columns a source yields, each reached through its own side's alias.</summary>
    private List<SourceColumn> Columns(Source source)
        => [.. source.Leaves.SelectMany(leaf => _session.Describe(leaf.Sql).Select(f => new SourceColumn($"{leaf.Alias}.{SqlText.QuoteIdentifier(f.Name)}", f.Name, f.Type, leaf.Alias)))];

    private static readonly Dictionary<Join.Types.JoinType, string> JoinKeywords = new()
    {
        [Join.Types.JoinType.Inner] = "JOIN",
        [Join.Types.JoinType.FullOuter] = "FULL OUTER JOIN",
        [Join.Types.JoinType.LeftOuter] = "LEFT JOIN",
        [Join.Types.JoinType.RightOuter] = "RIGHT JOIN",
        [Join.Types.JoinType.LeftAnti] = "ANTI JOIN",
        [Join.Types.JoinType.LeftSemi] = "SEMI JOIN",
        [Join.Types.JoinType.Cross] = "JOIN",
    };

    private static string JoinKeyword(Join join)
    {
        if (join.JoinDataType is { } dataType && (dataType.IsLeftStruct || dataType.IsRightStruct))
        {
            throw EngineException.Unsupported("typed joins (joinWith)");
        }

        return JoinKeywords.TryGetValue(join.JoinType, out var keyword) ? keyword : throw EngineException.Unsupported($"the join type '{join.JoinType}'");
    }

    /// <summary>A join with a condition (or none: a cross join) as FROM-clause SQL; Spark's output is every left column, then every right one.</summary>
    private Source JoinSource(Join join, List<(long PlanId, string? Previous)> undo)
    {
        var keyword = JoinKeyword(join);
        var left = SourceOf(join.Left, inlineJoins: true, undo);
        var right = SourceOf(join.Right, inlineJoins: true, undo);
        var semi = join.JoinType is Join.Types.JoinType.LeftSemi or Join.Types.JoinType.LeftAnti;
        string from;
        if (join.JoinCondition is null && join.JoinType is Join.Types.JoinType.Inner or Join.Types.JoinType.Cross)
        {
            from = $"({left.From} CROSS JOIN {right.From})";
        }
        else
        {
            // Spark allows an outer join without a condition: every pair matches.
            var condition = join.JoinCondition is null ? "true" : ExpressionToSql(join.JoinCondition);
            from = $"({left.From} {keyword} {right.From} ON {condition})";
        }

        // Semi and anti joins yield the left side's columns only.
        return new Source(from, null, $"SELECT * FROM {from}", semi ? left.Leaves : [.. left.Leaves, .. right.Leaves]);
    }

    private string JoinToSql(Join join)
    {
        var undo = new List<(long PlanId, string? Previous)>();
        try
        {
            if (join.UsingColumns.Count == 0)
            {
                return $"SELECT * FROM {JoinSource(join, undo).From}";
            }

            // USING: Spark's output is the key columns first (coalesced for a full outer join), then the other left
            // columns, then the other right ones (none for semi and anti joins).
            var keyword = JoinKeyword(join);
            var left = SourceOf(join.Left, inlineJoins: false, undo);
            var right = SourceOf(join.Right, inlineJoins: false, undo);
            var keys = join.UsingColumns.ToList();
            bool IsKey(string name) => keys.Any(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
            string Key(string alias, string key) => $"{alias}.{SqlText.QuoteIdentifier(key)}";
            var select = new List<string>();
            foreach (var key in keys)
            {
                select.Add(join.JoinType switch
                {
                    Join.Types.JoinType.RightOuter => $"{Key(right.Alias!, key)} AS {SqlText.QuoteIdentifier(key)}",
                    Join.Types.JoinType.FullOuter => $"COALESCE({Key(left.Alias!, key)}, {Key(right.Alias!, key)}) AS {SqlText.QuoteIdentifier(key)}",
                    _ => $"{Key(left.Alias!, key)} AS {SqlText.QuoteIdentifier(key)}",
                });
            }

            select.AddRange(Columns(left).Where(c => !IsKey(c.Name)).Select(c => c.Sql));
            if (join.JoinType is not (Join.Types.JoinType.LeftSemi or Join.Types.JoinType.LeftAnti))
            {
                select.AddRange(Columns(right).Where(c => !IsKey(c.Name)).Select(c => c.Sql));
            }

            var condition = string.Join(" AND ", keys.Select(k => $"{Key(left.Alias!, k)} = {Key(right.Alias!, k)}"));
            return $"SELECT {string.Join(", ", select)} FROM {left.From} {keyword} {right.From} ON {condition}";
        }
        finally
        {
            Unbind(undo);
        }
    }

    private string WithColumnsToSql(WithColumns withColumns)
        => Over(withColumns.Input, source =>
        {
            var added = new List<(string Name, string Sql)>();
            foreach (var alias in withColumns.Aliases)
            {
                if (alias.Name.Count != 1)
                {
                    throw EngineException.Unsupported("a multi-name alias in withColumns");
                }

                added.Add((alias.Name[0], ExpressionToSql(alias.Expr)));
            }

            // An existing column keeps its place with the new value (the last one given wins); a new one goes last.
            var columns = Columns(source);
            var select = columns.Select(c => added.LastOrDefault(a => string.Equals(a.Name, c.Name, StringComparison.OrdinalIgnoreCase)) is { Sql: not null } replacement
                ? $"{replacement.Sql} AS {SqlText.QuoteIdentifier(c.Name)}"
                : c.Sql).ToList();
            var fresh = added.Where(a => !columns.Any(c => string.Equals(a.Name, c.Name, StringComparison.OrdinalIgnoreCase)))
                .GroupBy(a => a.Name, StringComparer.OrdinalIgnoreCase)
                .Select(g => $"{g.Last().Sql} AS {SqlText.QuoteIdentifier(g.Last().Name)}");
            return $"SELECT {string.Join(", ", select.Concat(fresh))} FROM {source.From}";
        });

    private string WithColumnsRenamedToSql(WithColumnsRenamed renamed)
        => Over(renamed.Input, source =>
        {
#pragma warning disable CS0612 // Spark 3.4 clients send the map.
            var renames = renamed.Renames.Count > 0
                ? renamed.Renames.Select(r => (From: r.ColName, To: r.NewColName)).ToList()
                : [.. renamed.RenameColumnsMap.Select(p => (From: p.Key, To: p.Value))];
#pragma warning restore CS0612

            // Applied one after another, as Spark does; a name that matches no column changes nothing.
            var columns = Columns(source);
            var names = columns.Select(c => c.Name).ToList();
            foreach (var (from, to) in renames)
            {
                for (var i = 0; i < names.Count; i++)
                {
                    if (string.Equals(names[i], from, StringComparison.OrdinalIgnoreCase))
                    {
                        names[i] = to;
                    }
                }
            }

            return $"SELECT {string.Join(", ", columns.Select((c, i) => $"{c.Sql} AS {SqlText.QuoteIdentifier(names[i])}"))} FROM {source.From}";
        });

    private string DropToSql(Drop drop)
        => Over(drop.Input, source =>
        {
            // A name drops every column of that name; df["col"] drops only the column of that side of a join.
            var dropped = drop.ColumnNames.Select(n => (Name: n, Alias: (string?)null)).ToList();
            foreach (var column in drop.Columns)
            {
                if (column.ExprTypeCase == Expression.ExprTypeOneofCase.UnresolvedAttribute)
                {
                    var attribute = column.UnresolvedAttribute;
                    var alias = attribute.HasPlanId && _scope.TryGetValue(attribute.PlanId, out var bound) ? bound : null;
                    dropped.Add((SqlText.SplitIdentifier(attribute.UnparsedIdentifier)[^1], alias));
                }

                // Spark ignores anything else (an expression is not a column of the input).
            }

            var kept = Columns(source).Where(c => !dropped.Any(d => string.Equals(d.Name, c.Name, StringComparison.OrdinalIgnoreCase) && (d.Alias is null || d.Alias == c.Alias))).ToList();
            if (kept.Count == 0)
            {
                throw EngineException.Unsupported("dropping every column (a relation without columns)");
            }

            return $"SELECT {string.Join(", ", kept.Select(c => $"{c.Sql} AS {SqlText.QuoteIdentifier(c.Name)}"))} FROM {source.From}";
        });

    private static bool IsNumeric(EngineType type) => type.Kind is TypeKind.Byte or TypeKind.Short or TypeKind.Integer or TypeKind.Long or TypeKind.Float or TypeKind.Double or TypeKind.Decimal;

    private static bool IsIntegral(EngineType type) => type.Kind is TypeKind.Byte or TypeKind.Short or TypeKind.Integer or TypeKind.Long;

    private static bool IsFloating(EngineType type) => type.Kind is TypeKind.Float or TypeKind.Double;

    private string FillNaToSql(NAFill fill)
        => Over(fill.Input, source =>
        {
            if (fill.Values.Count == 0 || (fill.Values.Count > 1 && fill.Values.Count != fill.Cols.Count))
            {
                throw EngineException.Unsupported("na.fill without one value, or one value per column");
            }

            var columns = Columns(source);
            var select = new List<string>();
            foreach (var column in columns)
            {
                Expression.Types.Literal? value;
                bool cast;
                if (fill.Values.Count == 1)
                {
                    // One value fills the named (or all) columns of a matching type, as Spark's fill(value, cols).
                    var targeted = fill.Cols.Count == 0 || fill.Cols.Any(c => string.Equals(c, column.Name, StringComparison.OrdinalIgnoreCase));
                    value = targeted && FillApplies(fill.Values[0], column.Type) ? fill.Values[0] : null;
                    cast = false;
                }
                else
                {
                    // fill(dict): each value goes to its column, converted to the column's type.
                    var index = fill.Cols.ToList().FindIndex(c => string.Equals(c, column.Name, StringComparison.OrdinalIgnoreCase));
                    value = index >= 0 ? fill.Values[index] : null;
                    cast = true;
                }

                if (value is null || (!cast && !FillApplies(value, column.Type)))
                {
                    select.Add($"{column.Sql} AS {SqlText.QuoteIdentifier(column.Name)}");
                    continue;
                }

                var literal = LiteralToSql(value);

                // Spark truncates a fractional fill value into an integral column.
                var typed = IsIntegral(column.Type) && value.LiteralTypeCase is Expression.Types.Literal.LiteralTypeOneofCase.Double or Expression.Types.Literal.LiteralTypeOneofCase.Float
                    ? $"CAST(trunc({literal}) AS {column.Type.DuckDbName})"
                    : $"CAST({literal} AS {column.Type.DuckDbName})";

                // NaN counts as missing in floating-point columns.
                var missing = IsFloating(column.Type) ? $"({column.Sql} IS NULL OR isnan({column.Sql}))" : $"{column.Sql} IS NULL";
                select.Add($"CASE WHEN {missing} THEN {typed} ELSE {column.Sql} END AS {SqlText.QuoteIdentifier(column.Name)}");
            }

            return $"SELECT {string.Join(", ", select)} FROM {source.From}";
        });

    private static bool FillApplies(Expression.Types.Literal value, EngineType type) => value.LiteralTypeCase switch
    {
        Expression.Types.Literal.LiteralTypeOneofCase.Integer or Expression.Types.Literal.LiteralTypeOneofCase.Long
            or Expression.Types.Literal.LiteralTypeOneofCase.Double or Expression.Types.Literal.LiteralTypeOneofCase.Float
            or Expression.Types.Literal.LiteralTypeOneofCase.Short or Expression.Types.Literal.LiteralTypeOneofCase.Byte
            or Expression.Types.Literal.LiteralTypeOneofCase.Decimal => IsNumeric(type),
        Expression.Types.Literal.LiteralTypeOneofCase.String => type.Kind == TypeKind.String,
        Expression.Types.Literal.LiteralTypeOneofCase.Boolean => type.Kind == TypeKind.Boolean,
        _ => false,
    };

    private string DropNaToSql(NADrop drop)
        => Over(drop.Input, source =>
        {
            var columns = Columns(source);
            var checkedColumns = drop.Cols.Count == 0
                ? columns
                : [.. drop.Cols.Select(name => columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase))
                    ?? throw new EngineException(ErrorClasses.UnresolvedColumn, $"A column with name `{name}` cannot be resolved.", new() { ["objectName"] = $"`{name}`" }))];

            // Without min_non_nulls a row goes when any checked column is null ("any"); NaN counts as null.
            var needed = drop.HasMinNonNulls ? drop.MinNonNulls : checkedColumns.Count;
            var present = checkedColumns.Select(c => IsFloating(c.Type)
                ? $"(CASE WHEN {c.Sql} IS NULL OR isnan({c.Sql}) THEN 0 ELSE 1 END)"
                : $"(CASE WHEN {c.Sql} IS NULL THEN 0 ELSE 1 END)");
            var select = string.Join(", ", columns.Select(c => $"{c.Sql} AS {SqlText.QuoteIdentifier(c.Name)}"));
            var count = checkedColumns.Count == 0 ? "0" : string.Join(" + ", present);
            return string.Create(CultureInfo.InvariantCulture, $"SELECT {select} FROM {source.From} WHERE {count} >= {needed}");
        });

    private string SampleToSql(Sample sample)
    {
        if (sample.HasWithReplacement && sample.WithReplacement)
        {
            throw EngineException.Unsupported("sampling with replacement");
        }

        // A row is in when its hash (of the row and the seed) falls in [lower, upper): the same seed splits the
        // same rows the same way, so randomSplit's parts never overlap.
        var seed = sample.HasSeed ? sample.Seed : Random.Shared.NextInt64();
        var alias = NextAlias();
        return string.Create(
            CultureInfo.InvariantCulture,
            $"SELECT {alias}.* FROM ({ToSql(sample.Input)}) AS {alias} WHERE ((hash({alias}, {seed}) % 1000000007) / 1000000007.0) >= {DoubleLiteral(sample.LowerBound)} AND ((hash({alias}, {seed}) % 1000000007) / 1000000007.0) < {DoubleLiteral(sample.UpperBound)}");
    }

    /// <summary>describe() and summary(): one row per statistic, one string column per described column.</summary>
    private string StatisticsToSql(Relation input, IEnumerable<string> requested, IEnumerable<string> statistics)
        => Over(input, source =>
        {
            var columns = Columns(source);
            var names = requested.ToList();
            var described = names.Count == 0
                ? columns.Where(c => IsNumeric(c.Type) || c.Type.Kind == TypeKind.String).ToList()
                : [.. names.Select(name => columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase))
                    ?? throw new EngineException(ErrorClasses.UnresolvedColumn, $"A column with name `{name}` cannot be resolved.", new() { ["objectName"] = $"`{name}`" }))];
            var rows = new List<string>();
            var ordinal = 0;
            foreach (var statistic in statistics)
            {
                var values = described.Select(c => $"CAST({Statistic(statistic, c)} AS VARCHAR) AS {SqlText.QuoteIdentifier(c.Name)}");
                rows.Add($"SELECT {ordinal++} AS \"__order\", {SqlText.QuoteString(statistic)} AS \"summary\"{string.Concat(values.Select(v => ", " + v))} FROM {source.From}");
            }

            var output = string.Concat(described.Select(c => ", " + SqlText.QuoteIdentifier(c.Name)));
            return $"SELECT \"summary\"{output} FROM ({string.Join(" UNION ALL ", rows)}) ORDER BY \"__order\"";
        });

    private static string Statistic(string statistic, SourceColumn column)
    {
        var numeric = IsNumeric(column.Type);
        var name = statistic.Trim().ToLowerInvariant();
        if (name.EndsWith('%') && double.TryParse(name[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var percent))
        {
            return numeric ? string.Create(CultureInfo.InvariantCulture, $"quantile_disc({column.Sql}, {percent / 100})") : "NULL";
        }

        return name switch
        {
            "count" => $"count({column.Sql})",
            "mean" => numeric ? $"avg({column.Sql})" : "NULL",
            "stddev" => numeric ? $"stddev_samp({column.Sql})" : "NULL",
            "min" => $"min({column.Sql})",
            "max" => $"max({column.Sql})",
            "count_distinct" => $"count(DISTINCT {column.Sql})",
            "approx_count_distinct" => $"approx_count_distinct({column.Sql})",
            _ => throw new EngineException(ErrorClasses.Internal with { Name = "SUMMARY_STATISTIC_UNKNOWN" }, $"{statistic} is not a recognised statistic.", new() { ["stats"] = statistic }),
        };
    }

    private string UnpivotToSql(Unpivot unpivot)
        => Over(unpivot.Input, source =>
        {
            var ids = unpivot.Ids.Select(ExpressionToSql).ToList();
            var inner = unpivot.Values is { Values_.Count: > 0 } values
                ? $"SELECT {string.Join(", ", ids.Concat(values.Values_.Select(ExpressionToSql)))} FROM {source.From}"
                : null;
            if (inner is null)
            {
                // Without values every column that is not an id is unpivoted.
                var idNames = _session.Describe($"SELECT {string.Join(", ", ids)} FROM {source.From}").Select(f => f.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
                var rest = Columns(source).Where(c => !idNames.Contains(c.Name)).Select(c => $"{c.Sql} AS {SqlText.QuoteIdentifier(c.Name)}");
                inner = $"SELECT {string.Join(", ", ids.Concat(rest))} FROM {source.From}";
            }

            var unpivoted = _session.Describe(inner).Skip(ids.Count).Select(f => SqlText.QuoteIdentifier(f.Name)).ToList();
            if (unpivoted.Count == 0)
            {
                throw new EngineException(ErrorClasses.Internal with { Name = "UNPIVOT_REQUIRES_VALUE_COLUMNS", SqlState = "42K0A", JavaClass = "org.apache.spark.sql.AnalysisException" }, "At least one value column needs to be specified for UNPIVOT, all columns specified as ids.", []);
            }

            // Spark keeps the rows whose value is NULL; DuckDB drops them unless told.
            var alias = NextAlias();
            return $"SELECT * FROM ({inner}) AS {alias} UNPIVOT INCLUDE NULLS ({SqlText.QuoteIdentifier(unpivot.ValueColumnName)} FOR {SqlText.QuoteIdentifier(unpivot.VariableColumnName)} IN ({string.Join(", ", unpivoted)}))";
        });

    private string DeduplicateToSql(Deduplicate deduplicate)
    {
        var input = ToSql(deduplicate.Input);
        if (deduplicate.ColumnNames.Count == 0 || (deduplicate.HasAllColumnsAsKeys && deduplicate.AllColumnsAsKeys))
        {
            return $"SELECT DISTINCT * FROM ({input})";
        }

        // dropDuplicates(subset): one row (any) per distinct key, all columns kept.
        var keys = string.Join(", ", deduplicate.ColumnNames.Select(SqlText.QuoteIdentifier));
        return $"SELECT DISTINCT ON ({keys}) * FROM ({input})";
    }

    private string SetOpToSql(SetOperation op)
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

    private string AggregateToSql(Aggregate aggregate)
    {
        if (aggregate.GroupType is not (Aggregate.Types.GroupType.Groupby or Aggregate.Types.GroupType.Unspecified or Aggregate.Types.GroupType.Rollup or Aggregate.Types.GroupType.Cube))
        {
            throw EngineException.Unsupported($"the aggregate group type '{aggregate.GroupType}'");
        }

        return Over(aggregate.Input, source =>
        {
            // The output names a grouping expression by its alias; GROUP BY takes the expression itself.
            var selected = aggregate.GroupingExpressions.Concat(aggregate.AggregateExpressions).Select(ExpressionToSql);
            var groups = aggregate.GroupingExpressions.Select(e => ExpressionToSql(StripAlias(e))).ToList();
            var sql = new StringBuilder($"SELECT {string.Join(", ", selected)} FROM {source.From}");
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
        });
    }

    private static Expression StripAlias(Expression expression)
        => expression.ExprTypeCase == Expression.ExprTypeOneofCase.Alias ? StripAlias(expression.Alias.Expr) : expression;

    private string DataSourceToSql(Read.Types.DataSource source)
    {
        var format = (source.HasFormat && source.Format.Length > 0 ? source.Format : "parquet").ToLowerInvariant();
        if (source.Predicates.Count > 0)
        {
            throw EngineException.Unsupported("reads with predicates (JDBC)");
        }

        if (format is not ("parquet" or "csv" or "json"))
        {
            throw EngineException.Unsupported($"the data source format '{format}' (parquet, csv and json are read)");
        }

        if (source.Paths.Count == 0)
        {
            throw EngineException.Unsupported($"a {format} read without a path");
        }

        var options = new Dictionary<string, string>(source.Options, StringComparer.OrdinalIgnoreCase);
        var files = source.Paths.SelectMany(_files.InputFiles).Distinct(StringComparer.Ordinal).ToList();
        var list = "[" + string.Join(", ", files.Select(SqlText.QuoteString)) + "]";
        var schema = source.HasSchema && source.Schema.Trim().Length > 0 ? SparkDdlParser.ParseDdl(source.Schema) : null;
        var columns = schema is null ? "" : ", columns = {" + string.Join(", ", schema.Fields.Select(f => $"{SqlText.QuoteString(f.Name)}: {SqlText.QuoteString(f.Type.DuckDbName)}")) + "}";
        switch (format)
        {
            case "parquet":
                var parquet = $"SELECT * FROM read_parquet({list}, hive_partitioning = true, union_by_name = true)";
                return schema is null ? parquet : $"SELECT {string.Join(", ", schema.Fields.Select(f => $"CAST({SqlText.QuoteIdentifier(f.Name)} AS {f.Type.DuckDbName}) AS {SqlText.QuoteIdentifier(f.Name)}"))} FROM ({parquet})";
            case "csv":
                // Spark's defaults: no header, every column a string unless inferSchema, comma-separated.
                var header = Flag(options, "header");
                var infer = Flag(options, "inferSchema");
                var separator = options.TryGetValue("sep", out var sep) || options.TryGetValue("delimiter", out sep) ? sep : ",";
                var csvOptions = new StringBuilder($"header = {(header ? "true" : "false")}, delim = {SqlText.QuoteString(separator)}");
                if (options.TryGetValue("quote", out var quote))
                {
                    csvOptions.Append(", quote = ").Append(SqlText.QuoteString(quote));
                }

                if (options.TryGetValue("escape", out var escape))
                {
                    csvOptions.Append(", escape = ").Append(SqlText.QuoteString(escape));
                }

                if (options.TryGetValue("nullValue", out var nullValue))
                {
                    csvOptions.Append(", nullstr = ").Append(SqlText.QuoteString(nullValue));
                }

                if (schema is null && !infer)
                {
                    csvOptions.Append(", all_varchar = true");
                }

                var csv = $"SELECT * FROM read_csv({list}, {csvOptions}{columns})";
                if (header || schema is not null)
                {
                    return csv;
                }

                // Without a header Spark names the columns _c0, _c1, ….
                var read = _session.Describe(csv);
                return $"SELECT {string.Join(", ", read.Select((f, i) => $"{SqlText.QuoteIdentifier(f.Name)} AS \"_c{i.ToString(CultureInfo.InvariantCulture)}\""))} FROM ({csv})";
            default:
                var json = $"SELECT * FROM read_json({list}, format = {(Flag(options, "multiLine") ? "'array'" : "'newline_delimited'")}{columns})";
                if (schema is not null)
                {
                    return json;
                }

                // Spark's JSON schema inference orders the fields by name.
                var fields = _session.Describe(json);
                return $"SELECT {string.Join(", ", fields.Select(f => f.Name).Order(StringComparer.Ordinal).Select(SqlText.QuoteIdentifier))} FROM ({json})";
        }
    }

    private static bool Flag(Dictionary<string, string> options, string key)
        => options.TryGetValue(key, out var value) && bool.TryParse(value.Trim(), out var flag) && flag;

    private static bool IsCatalogCommand(Catalog catalog) => catalog.CatTypeCase is Catalog.CatTypeOneofCase.SetCurrentDatabase
        or Catalog.CatTypeOneofCase.SetCurrentCatalog or Catalog.CatTypeOneofCase.CacheTable or Catalog.CatTypeOneofCase.UncacheTable
        or Catalog.CatTypeOneofCase.ClearCache or Catalog.CatTypeOneofCase.RefreshTable or Catalog.CatTypeOneofCase.RefreshByPath;

    /// <summary>spark.catalog calls over DuckDB's catalog functions, with Spark's result columns.</summary>
    private string CatalogToSql(Catalog catalog)
    {
        switch (catalog.CatTypeCase)
        {
            case Catalog.CatTypeOneofCase.CurrentDatabase:
                return $"SELECT {CatalogNames.DatabaseSql("current_schema()")} AS \"value\"";
            case Catalog.CatTypeOneofCase.SetCurrentDatabase:
                RequireDatabase(catalog.SetCurrentDatabase.DbName);
                _commands.Add($"USE {SqlText.QuoteIdentifier(CatalogNames.ToSchema(catalog.SetCurrentDatabase.DbName))}");
                return EmptySql;
            case Catalog.CatTypeOneofCase.CurrentCatalog:
                return $"SELECT '{CatalogNames.SparkCatalog}' AS \"value\"";
            case Catalog.CatTypeOneofCase.SetCurrentCatalog:
                if (!string.Equals(catalog.SetCurrentCatalog.CatalogName, CatalogNames.SparkCatalog, StringComparison.OrdinalIgnoreCase))
                {
                    throw new EngineException(ErrorClasses.CatalogNotFound, $"The catalog `{catalog.SetCurrentCatalog.CatalogName}` not found.", new() { ["catalogName"] = $"`{catalog.SetCurrentCatalog.CatalogName}`" });
                }

                return EmptySql;
            case Catalog.CatTypeOneofCase.ListCatalogs:
                return $"SELECT * FROM (SELECT '{CatalogNames.SparkCatalog}' AS \"name\", CAST(NULL AS VARCHAR) AS \"description\") WHERE {PatternFilter("\"name\"", catalog.ListCatalogs.HasPattern ? catalog.ListCatalogs.Pattern : null)}";
            case Catalog.CatTypeOneofCase.ListDatabases:
                var databasePattern = catalog.ListDatabases.HasPattern ? catalog.ListDatabases.Pattern : null;
                return $"SELECT * FROM (SELECT {CatalogNames.DatabaseSql("schema_name")} AS \"name\", '{CatalogNames.SparkCatalog}' AS \"catalog\", \"comment\" AS \"description\", {SqlText.QuoteString("file:" + _files.Root)} AS \"locationUri\" "
                    + $"FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name NOT IN ('information_schema', 'pg_catalog')) WHERE {PatternFilter("\"name\"", databasePattern)} ORDER BY \"name\"";
            case Catalog.CatTypeOneofCase.DatabaseExists:
                return $"SELECT EXISTS (SELECT 1 FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name = {SqlText.QuoteString(CatalogNames.ToSchema(catalog.DatabaseExists.DbName))}) AS \"value\"";
            case Catalog.CatTypeOneofCase.ListTables:
                return ListTablesSql(catalog.ListTables.HasDbName ? catalog.ListTables.DbName : null, catalog.ListTables.HasPattern ? catalog.ListTables.Pattern : null);
            case Catalog.CatTypeOneofCase.TableExists:
                return $"SELECT EXISTS ({TableLookupSql(catalog.TableExists.TableName, catalog.TableExists.HasDbName ? catalog.TableExists.DbName : null)}) AS \"value\"";
            case Catalog.CatTypeOneofCase.ListColumns:
                return ListColumnsSql(catalog.ListColumns.TableName, catalog.ListColumns.HasDbName ? catalog.ListColumns.DbName : null);
            case Catalog.CatTypeOneofCase.DropTempView:
                var view = SqlText.QuoteString(catalog.DropTempView.ViewName);
                var existed = _session.Scalar($"SELECT count(*) FROM duckdb_views() WHERE temporary AND NOT internal AND view_name = {view}") is long n && n > 0;
                if (existed)
                {
                    _commands.Add($"DROP VIEW IF EXISTS temp.main.{SqlText.QuoteIdentifier(catalog.DropTempView.ViewName)}");
                }

                return $"SELECT {(existed ? "true" : "false")} AS \"value\"";
            case Catalog.CatTypeOneofCase.IsCached:
                return "SELECT false AS \"value\"";
            case Catalog.CatTypeOneofCase.CacheTable or Catalog.CatTypeOneofCase.UncacheTable or Catalog.CatTypeOneofCase.ClearCache
                or Catalog.CatTypeOneofCase.RefreshTable or Catalog.CatTypeOneofCase.RefreshByPath:
                // Tables already live in DuckDB: caching and refreshing change nothing a client can observe.
                return EmptySql;
            default:
                throw EngineException.Unsupported($"the catalog call '{catalog.CatTypeCase}'");
        }
    }

    private static string PatternFilter(string column, string? pattern)
        => pattern is null ? "true" : $"regexp_full_match({column}, {SqlText.QuoteString(CatalogNames.PatternRegex(pattern))})";

    private void RequireDatabase(string database)
    {
        if (_session.Scalar($"SELECT count(*) FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name = {SqlText.QuoteString(CatalogNames.ToSchema(database))}") is not long n || n == 0)
        {
            throw new EngineException(ErrorClasses.SchemaNotFound, $"The schema `{database}` cannot be found. Verify the spelling and correctness of the schema and catalog.", new() { ["schemaName"] = $"`{database}`" });
        }
    }

    private string ListTablesSql(string? database, string? pattern)
    {
        string schema;
        if (database is null)
        {
            schema = "current_schema()";
        }
        else
        {
            RequireDatabase(database);
            schema = SqlText.QuoteString(CatalogNames.ToSchema(database));
        }

        // Spark's Table: name, catalog, namespace, description, tableType, isTemporary; temporary views belong to no database.
        var persistent = $"database_name = current_database() AND schema_name = {schema} AND NOT temporary";
        var ns = $"[{CatalogNames.DatabaseSql("schema_name")}]";
        var tables = $"SELECT table_name AS \"name\", '{CatalogNames.SparkCatalog}' AS \"catalog\", {ns} AS \"namespace\", \"comment\" AS \"description\", 'MANAGED' AS \"tableType\", false AS \"isTemporary\" FROM duckdb_tables() WHERE {persistent}";
        var views = $"SELECT view_name, '{CatalogNames.SparkCatalog}', {ns}, \"comment\", 'VIEW', false FROM duckdb_views() WHERE NOT internal AND {persistent}";
        var temporary = "SELECT view_name, CAST(NULL AS VARCHAR), CAST([] AS VARCHAR[]), \"comment\", 'TEMPORARY', true FROM duckdb_views() WHERE temporary AND NOT internal "
            + "UNION ALL SELECT table_name, CAST(NULL AS VARCHAR), CAST([] AS VARCHAR[]), \"comment\", 'TEMPORARY', true FROM duckdb_tables() WHERE temporary";
        return $"SELECT * FROM ({tables} UNION ALL {views} UNION ALL {temporary}) WHERE {PatternFilter("\"name\"", pattern)} ORDER BY \"isTemporary\", \"name\"";
    }

    /// <summary>Rows for a table or view named as Spark names it (temporary views first when the name is bare).</summary>
    internal static string TableLookupSql(string tableName, string? database)
    {
        var parts = SqlText.SplitIdentifier(tableName).ToList();
        if (database is not null)
        {
            parts = [database, .. parts];
        }

        if (parts.Count == 3 && string.Equals(parts[0], CatalogNames.SparkCatalog, StringComparison.OrdinalIgnoreCase))
        {
            parts.RemoveAt(0);
        }

        var name = SqlText.QuoteString(parts[^1]);
        var where = parts.Count == 1
            ? $"(temporary OR (database_name = current_database() AND schema_name = current_schema())) AND {{0}} = {name}"
            : $"NOT temporary AND database_name = current_database() AND schema_name = {SqlText.QuoteString(CatalogNames.ToSchema(parts[^2]))} AND {{0}} = {name}";
        return $"SELECT 1 FROM duckdb_tables() WHERE {string.Format(CultureInfo.InvariantCulture, where, "table_name")} UNION ALL SELECT 1 FROM duckdb_views() WHERE NOT internal AND {string.Format(CultureInfo.InvariantCulture, where, "view_name")}";
    }

    private string ListColumnsSql(string tableName, string? database)
    {
        var qualified = database is null ? tableName : $"{database}.{tableName}";
        var fields = _session.Describe($"SELECT * FROM {CatalogNames.Table(qualified)}");

        // Spark's Column: name, description, dataType, nullable, isPartition, isBucket, isCluster.
        var rows = fields.Select(f => $"({SqlText.QuoteString(f.Name)}, CAST(NULL AS VARCHAR), {SqlText.QuoteString(f.Type.SimpleString)}, {(f.Nullable ? "true" : "false")}, false, false, false)");
        return $"SELECT * FROM (VALUES {string.Join(", ", rows)}) AS \"__columns\"(\"name\", \"description\", \"dataType\", \"nullable\", \"isPartition\", \"isBucket\", \"isCluster\")";
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

    private string SortOrderToSql(Expression.Types.SortOrder order)
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

    public string ExpressionToSql(Expression expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        switch (expression.ExprTypeCase)
        {
            case Expression.ExprTypeOneofCase.Literal:
                return LiteralToSql(expression.Literal);
            case Expression.ExprTypeOneofCase.UnresolvedAttribute:
                var attribute = expression.UnresolvedAttribute;
                var identifier = SqlText.Identifier(attribute.UnparsedIdentifier);

                // df["col"]: the column of that DataFrame, wherever it sits in the FROM clause.
                return attribute.HasPlanId && _scope.TryGetValue(attribute.PlanId, out var scoped) ? $"{scoped}.{identifier}" : identifier;
            case Expression.ExprTypeOneofCase.UnresolvedStar:
                var target = expression.UnresolvedStar.HasUnparsedTarget ? expression.UnresolvedStar.UnparsedTarget : "";
                if (target.Length == 0 && expression.UnresolvedStar.HasPlanId && _scope.TryGetValue(expression.UnresolvedStar.PlanId, out var starScope))
                {
                    return starScope + ".*";
                }

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

    private string FunctionToSql(Expression.Types.UnresolvedFunction function)
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
            case "when" when arguments.Count >= 2:
                // when(c1, v1).when(c2, v2).otherwise(e) arrives as one call: c1, v1, c2, v2, e.
                var branches = new StringBuilder("(CASE");
                for (var i = 0; i + 1 < arguments.Count; i += 2)
                {
                    branches.Append(" WHEN ").Append(arguments[i]).Append(" THEN ").Append(arguments[i + 1]);
                }

                if (arguments.Count % 2 == 1)
                {
                    branches.Append(" ELSE ").Append(arguments[^1]);
                }

                return branches.Append(" END)").ToString();
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

    internal static string LiteralToSql(Expression.Types.Literal literal)
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
    public int SemanticHash(Relation relation)
    {
        var sql = ToSql(relation);
        var bytes = Encoding.UTF8.GetBytes(string.Join(' ', sql.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
        return BitConverter.ToInt32(System.Security.Cryptography.SHA256.HashData(bytes), 0);
    }

    /// <summary>Plans are the same when they translate to the same SQL (aliases numbered alike).</summary>
    public bool SameSemantics(Relation left, Relation right)
    {
        var first = ToSql(left);
        _aliases = 0;
        return first == ToSql(right);
    }

    internal static ByteString EmptyIpc()
    {
        var schema = new Apache.Arrow.Schema([], null);
        return ByteString.CopyFrom(ArrowConversion.ToIpcStream(schema, new Apache.Arrow.RecordBatch(schema, [], 0)));
    }
}
