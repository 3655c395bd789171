using Grpc.Net.Client;
using Spark.Connect;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

/// <summary>
/// A standalone engine on loopback (no gateway in between) with its own data directory, and Spark Connect clients
/// talking to it over a real gRPC channel: the direct path a Spark client takes to an engine.
/// </summary>
internal sealed class DirectEngine : IAsyncDisposable
{
    private readonly GrpcChannel _channel;

    private DirectEngine(LocalSparkConnectEngine engine, string dataDirectory)
    {
        Engine = engine;
        DataDirectory = dataDirectory;
        _channel = GrpcChannel.ForAddress(engine.Address, new GrpcChannelOptions { MaxReceiveMessageSize = 128 * 1024 * 1024 });
    }

    public LocalSparkConnectEngine Engine { get; }

    public string DataDirectory { get; }

    public static async Task<DirectEngine> StartAsync(Action<LocalEngineOptions>? configure = null)
    {
        var data = Directory.CreateTempSubdirectory("direct-engine-").FullName;
        var options = new LocalEngineOptions { DataDirectory = data };
        configure?.Invoke(options);
        return new DirectEngine(await LocalSparkConnectEngine.StartAsync(options), data);
    }

    public SparkClient Client(string user = "alice") => new(new SparkConnectService.SparkConnectServiceClient(_channel), user);

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await Engine.DisposeAsync();
        Directory.Delete(DataDirectory, recursive: true);
    }
}

/// <summary>One direct engine shared by the tests of this assembly; each test uses its own session and names.</summary>
internal static class SharedEngine
{
    private static readonly Lazy<Task<DirectEngine>> Started = new(() => DirectEngine.StartAsync());

    internal static DirectEngine Engine => Started.Value.GetAwaiter().GetResult();

    internal static SparkClient Client(string user = "alice") => Engine.Client(user);

    /// <summary>Called by the assembly cleanup (<see cref="SharedGateway"/>).</summary>
    public static async Task StopAsync()
    {
        if (Started.IsValueCreated && Started.Value.IsCompletedSuccessfully)
        {
            await (await Started.Value).DisposeAsync();
        }
    }
}

/// <summary>Builders for the plans a Spark client sends (the shapes PySpark's DataFrame API produces).</summary>
internal static class Plans
{
    private static long _planIds = 1000;

    public static string Unique(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Gives a relation a plan id, as clients do for every DataFrame.</summary>
    public static Relation WithId(this Relation relation, out long planId)
    {
        planId = Interlocked.Increment(ref _planIds);
        relation.Common = new RelationCommon { PlanId = planId };
        return relation;
    }

    public static Relation Sql(string query) => new() { Sql = new SQL { Query = query } };

    public static Relation Range(long end) => new() { Range = new Spark.Connect.Range { End = end, Step = 1 } };

    public static Expression Col(string name, long? planId = null)
    {
        var attribute = new Expression.Types.UnresolvedAttribute { UnparsedIdentifier = name };
        if (planId is { } id)
        {
            attribute.PlanId = id;
        }

        return new Expression { UnresolvedAttribute = attribute };
    }

    public static Expression Lit(long value) => new() { Literal = new Expression.Types.Literal { Long = value } };

    public static Expression Lit(string value) => new() { Literal = new Expression.Types.Literal { String = value } };

    public static Expression Lit(double value) => new() { Literal = new Expression.Types.Literal { Double = value } };

    public static Expression Fn(string name, params Expression[] args)
    {
        var function = new Expression.Types.UnresolvedFunction { FunctionName = name };
        function.Arguments.Add(args);
        return new Expression { UnresolvedFunction = function };
    }

    public static Expression As(this Expression expression, string name) => new() { Alias = new Expression.Types.Alias { Expr = expression, Name = { name } } };

    public static Expression Expr(string text) => new() { ExpressionString = new Expression.Types.ExpressionString { Expression = text } };

    public static Relation Select(this Relation input, params Expression[] expressions)
    {
        var project = new Project { Input = input };
        project.Expressions.Add(expressions);
        return new Relation { Project = project };
    }

    public static Relation OrderBy(this Relation input, params string[] columns)
    {
        var sort = new Sort { Input = input };
        sort.Order.Add(columns.Select(c => new Expression.Types.SortOrder { Child = Col(c), Direction = Expression.Types.SortOrder.Types.SortDirection.Ascending }));
        return new Relation { Sort = sort };
    }

    public static Relation Join(this Relation left, Relation right, Join.Types.JoinType type, Expression? condition = null, params string[] usingColumns)
    {
        var join = new Join { Left = left, Right = right, JoinType = type };
        if (condition is not null)
        {
            join.JoinCondition = condition;
        }

        join.UsingColumns.Add(usingColumns);
        return new Relation { Join = join };
    }

    /// <summary>Rows as comparable text, "a|b|c", in result order.</summary>
    public static string[] Text(this List<object?[]> rows)
        => [.. rows.Select(r => string.Join('|', r.Select(v => v switch
        {
            null => "null",
            double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            System.Collections.IEnumerable e and not string => "[" + string.Join(',', e.Cast<object?>().Select(x => Convert.ToString(x, System.Globalization.CultureInfo.InvariantCulture))) + "]",
            _ => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture),
        })))];
}
