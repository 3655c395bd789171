extern alias Testing;

using Apache.Arrow;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Hosting;
using SparkConnect.Multiplexer.LocalEngine.Types;
using SharedGatewayHost = Testing::SparkConnect.Multiplexer.Testing.GatewayHost;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

/// <summary>
/// The shared test gateway (<c>SparkConnect.Multiplexer.Testing.GatewayHost</c>: Kestrel, HTTP/2, alice and bob as
/// token users) routing to embedded local engines, with o'brien as a third user, and clients built on the local
/// engine's own generated Spark Connect types (the shared ones are behind the <c>Testing</c> alias: two copies of the
/// generated types cannot meet in one file).
/// </summary>
internal sealed class LocalGateway : IAsyncDisposable
{
    private const string OBrienToken = "o'brien-token-0123456789abcdef";

    private readonly SharedGatewayHost _host;
    private readonly GrpcChannel _channel;

    private LocalGateway(SharedGatewayHost host)
    {
        _host = host;
        _channel = GrpcChannel.ForAddress(host.Address, new GrpcChannelOptions { MaxReceiveMessageSize = 128 * 1024 * 1024 });
    }

    public Uri Address => _host.Address;

    public IServiceProvider Services => _host.Services;

    /// <summary>The embedded engines' locator of this gateway.</summary>
    public LocalEngineLocator Locator => (LocalEngineLocator)_host.Services.GetRequiredService<IEngineLocator>();

    public static async Task<LocalGateway> StartAsync(Action<LocalEngineOptions>? configure = null, Action<SparkConnectGatewayOptions>? configureGateway = null)
    {
        var host = await SharedGatewayHost.StartAsync(
            o =>
            {
                o.Authentication.Tokens.Add(new StaticTokenOptions { Token = OBrienToken, User = "o'brien" });
                configureGateway?.Invoke(o);
            },
            build: gateway => gateway.AddLocalEngines(configure));
        return new LocalGateway(host);
    }

    public SparkClient Client(string user) => new(
        new SparkConnectService.SparkConnectServiceClient(_channel),
        user,
        token: user switch
        {
            "alice" => SharedGatewayHost.AliceToken,
            "bob" => SharedGatewayHost.BobToken,
            _ => null,
        });

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _host.DisposeAsync();
    }
}

/// <summary>A minimal Spark Connect client for one user and one session.</summary>
/// <remarks>Its bearer token is <c>{user}-token-0123456789abcdef</c> unless <paramref name="token"/> says otherwise.</remarks>
internal sealed class SparkClient(SparkConnectService.SparkConnectServiceClient raw, string user, string? sessionId = null, string? token = null)
{
    public SparkConnectService.SparkConnectServiceClient Raw { get; } = raw;

    public string SessionId { get; } = sessionId ?? Guid.NewGuid().ToString();

    public UserContext UserContext => new() { UserId = user, UserName = user };

    public Metadata Headers => new() { { "authorization", $"Bearer {token ?? user + "-token-0123456789abcdef"}" } };

    public ExecutePlanRequest Request(Plan plan, string? operationId = null, bool reattachable = false)
    {
        var request = new ExecutePlanRequest { SessionId = SessionId, UserContext = UserContext, Plan = plan, ClientType = "tests" };
        if (operationId is not null)
        {
            request.OperationId = operationId;
        }

        if (reattachable)
        {
            request.RequestOptions.Add(new ExecutePlanRequest.Types.RequestOption { ReattachOptions = new ReattachOptions { Reattachable = true } });
        }

        return request;
    }

    public async Task<List<ExecutePlanResponse>> ExecuteAsync(Plan plan, CancellationToken cancellationToken = default)
    {
        using var call = Raw.ExecutePlan(Request(plan), Headers, cancellationToken: cancellationToken);
        var responses = new List<ExecutePlanResponse>();
        await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            responses.Add(response);
        }

        return responses;
    }

    /// <summary>Runs SQL as a Spark client does: sql_command, then the returned relation.</summary>
    public async Task<Relation> SqlAsync(string sql)
    {
        var responses = await ExecuteAsync(new Plan { Command = new Command { SqlCommand = new SqlCommand { Input = new Relation { Sql = new SQL { Query = sql } } } } });
        return responses.Single(r => r.ResponseTypeCase == ExecutePlanResponse.ResponseTypeOneofCase.SqlCommandResult).SqlCommandResult.Relation;
    }

    public async Task<(IReadOnlyList<EngineField> Fields, List<object?[]> Rows, List<ExecutePlanResponse> Responses)> QueryAsync(Relation relation)
    {
        var responses = await ExecuteAsync(new Plan { Root = relation });
        return Decode(responses);
    }

    public Task<(IReadOnlyList<EngineField> Fields, List<object?[]> Rows, List<ExecutePlanResponse> Responses)> QueryAsync(string sql)
        => QueryAsync(new Relation { Sql = new SQL { Query = sql } });

    public async Task<string> ShowAsync(Relation input, int numRows = 20, int truncate = 20, bool vertical = false)
    {
        var (_, rows, _) = await QueryAsync(new Relation { ShowString = new ShowString { Input = input, NumRows = numRows, Truncate = truncate, Vertical = vertical } });
        return (string)rows.Single()[0]!;
    }

    public static (IReadOnlyList<EngineField> Fields, List<object?[]> Rows, List<ExecutePlanResponse> Responses) Decode(List<ExecutePlanResponse> responses)
    {
        IReadOnlyList<EngineField> fields = [];
        var rows = new List<object?[]>();
        foreach (var response in responses.Where(r => r.ResponseTypeCase == ExecutePlanResponse.ResponseTypeOneofCase.ArrowBatch))
        {
            var (batchFields, batchRows) = ArrowConversion.ReadIpcStream(response.ArrowBatch.Data.Memory);
            Assert.AreEqual(response.ArrowBatch.RowCount, batchRows.Count, "row_count must match the Arrow batch");
            fields = batchFields;
            rows.AddRange(batchRows);
        }

        Assert.AreEqual(ExecutePlanResponse.ResponseTypeOneofCase.ResultComplete, responses[^1].ResponseTypeCase, "the last response must be result_complete");
        return (fields, rows, responses);
    }
}

/// <summary>The ErrorInfo of a failed call, decoded from grpc-status-details-bin.</summary>
internal static class ErrorDetails
{
    public static Rpc.ErrorInfo Read(RpcException error)
    {
        var bytes = error.Trailers.GetValueBytes("grpc-status-details-bin") ?? throw new AssertFailedException("no grpc-status-details-bin trailer");
        var status = Rpc.Status.Parser.ParseFrom(bytes);
        Assert.AreEqual((int)error.StatusCode, status.Code);
        return status.Details.Single().Unpack<Rpc.ErrorInfo>();
    }
}
