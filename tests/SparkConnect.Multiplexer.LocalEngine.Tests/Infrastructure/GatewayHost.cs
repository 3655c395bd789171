using System.Net;
using Apache.Arrow;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;

/// <summary>A real gateway (Kestrel, HTTP/2, token auth for alice and bob) routing to embedded local engines.</summary>
internal sealed class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly GrpcChannel _channel;

    private GatewayHost(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = 128 * 1024 * 1024 });
    }

    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The embedded engines' locator of this gateway.</summary>
    public SparkConnect.Multiplexer.LocalEngine.Hosting.LocalEngineLocator Locator => (SparkConnect.Multiplexer.LocalEngine.Hosting.LocalEngineLocator)_app.Services.GetRequiredService<SparkConnect.Multiplexer.IEngineLocator>();

    public static async Task<GatewayHost> StartAsync(Action<LocalEngineOptions>? configure = null, Action<SparkConnect.Multiplexer.SparkConnectGatewayOptions>? configureGateway = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddSparkConnectGateway(o =>
        {
            o.Authentication.Tokens.Add(new SparkConnect.Multiplexer.StaticTokenOptions { Token = "alice-token-0123456789abcdef", User = "alice" });
            o.Authentication.Tokens.Add(new SparkConnect.Multiplexer.StaticTokenOptions { Token = "bob-token-0123456789abcdef", User = "bob" });
            o.Authentication.Tokens.Add(new SparkConnect.Multiplexer.StaticTokenOptions { Token = "o'brien-token-0123456789abcdef", User = "o'brien" });
            configureGateway?.Invoke(o);
        }).AddLocalEngines(configure);
        var app = builder.Build();
        app.MapSparkConnectGateway();
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return new GatewayHost(app, address);
    }

    public SparkClient Client(string user) => new(new SparkConnectService.SparkConnectServiceClient(_channel), user);

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A minimal Spark Connect client for one user and one session.</summary>
internal sealed class SparkClient(SparkConnectService.SparkConnectServiceClient raw, string user, string? sessionId = null)
{
    public SparkConnectService.SparkConnectServiceClient Raw { get; } = raw;

    public string SessionId { get; } = sessionId ?? Guid.NewGuid().ToString();

    public UserContext UserContext => new() { UserId = user, UserName = user };

    public Metadata Headers => new() { { "authorization", $"Bearer {user}-token-0123456789abcdef" } };

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
