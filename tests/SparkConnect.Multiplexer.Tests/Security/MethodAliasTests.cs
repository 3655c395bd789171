using Google.Protobuf;
using Grpc.Core;
using SparkConnect.Multiplexer.Protocol;
using SparkConnect.Multiplexer.TestEngine;
using SparkConnect.Multiplexer.Testing;
using SparkConnect.Multiplexer.Tests.Infrastructure;
using Spark.Connect;

namespace SparkConnect.Multiplexer.Tests.Security;

/// <summary>
/// Finding 1: a call's method is decided once, from the raw path. An alias of a known method (percent-encoded, with a
/// query or fragment, another case) is no method at all and never reaches an engine, so no per-method rule can be
/// skipped by spelling the method differently.
/// </summary>
[TestClass]
public sealed class MethodAliasTests
{
    private const string Service = "/spark.connect.SparkConnectService/";

    private static RecordingEngine _engine = null!;
    private static GatewayHost _gateway = null!;

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        _engine = await RecordingEngine.StartAsync("engine-a", context.CancellationToken);
        _gateway = await GatewayHost.StartAsync(_engine, o =>
        {
            o.Authorization.DeniedConfigKeys.Add("spark.driver.*");
            o.Limits.MaxConcurrentExecutionsPerUser = 1;
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _gateway.DisposeAsync();
        await _engine.DisposeAsync();
    }

    [TestMethod]
    [DataRow("Config%23")]
    [DataRow("Config%23x")]
    [DataRow("Config%3F")]
    [DataRow("Config%3Fx=1")]
    [DataRow("Config?x=1")]
    [DataRow("Config%20")]
    [DataRow("Config/")]
    [DataRow("Config%2F")]
    [DataRow("Config%25")]
    [DataRow("Config%0A")]
    [DataRow("config")]
    [DataRow("CONFIG")]
    [DataRow("ExecutePlan%23")]
    [DataRow("CloneSession%23")]
    [DataRow("ReleaseSession%3F")]
    [DataRow("releasesession")]
    [DataRow("")]
    public async Task AliasOfAMethod_IsUnimplemented_AndNeverForwarded(string name)
    {
        var before = _engine.Calls.Count;
        var request = SetRequest(GatewayHost.NewSessionId(), "spark.driver.memory", "64g");

        var result = await RawHttp2.PostAsync(_gateway.Address, Service + name, RawHttp2.Frame(request.ToByteArray()), GatewayHost.AliceToken, Cancel);

        Assert.AreEqual(StatusCode.Unimplemented, result.Status, $"{(int)result.Status}: {result.Message}");
        StringAssert.Contains(result.Message, "is not a method of spark.connect.SparkConnectService");
        Assert.AreEqual(before, _engine.Calls.Count, "an alias must never reach an engine");
    }

    [TestMethod]
    public async Task ExactConfig_StillRunsEveryRule()
    {
        var result = await RawHttp2.PostAsync(_gateway.Address, Service + "Config", RawHttp2.Frame(SetRequest(GatewayHost.NewSessionId(), "spark.driver.memory", "64g").ToByteArray()), GatewayHost.AliceToken, Cancel);

        Assert.AreEqual(StatusCode.PermissionDenied, result.Status, result.Message);
        StringAssert.Contains(result.Message, "spark.driver.memory");
    }

    [TestMethod]
    public async Task UnknownPlainMethod_WithAConfDenyList_IsRefusedUnlessAllowed()
    {
        var request = RawHttp2.Frame(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }.ToByteArray());

        var refused = await RawHttp2.PostAsync(_gateway.Address, Service + "FutureRpc", request, GatewayHost.AliceToken, Cancel);
        Assert.AreEqual(StatusCode.PermissionDenied, refused.Status, refused.Message);
        StringAssert.Contains(refused.Message, "AllowedUnknownMethods");

        await using var allowing = await GatewayHost.StartAsync(_engine, o =>
        {
            o.Authorization.DeniedConfigKeys.Add("spark.driver.*");
            o.Authorization.AllowedUnknownMethods.Add("FutureRpc");
        });
        var forwarded = await RawHttp2.PostAsync(allowing.Address, Service + "FutureRpc", request, GatewayHost.AliceToken, Cancel);
        Assert.AreEqual(StatusCode.OK, forwarded.Status, forwarded.Message);
        Assert.AreEqual("FutureRpc", _engine.Calls[^1].Method, "the engine path is the decided name");
    }

    [TestMethod]
    public async Task UnknownPlainMethod_WithoutADenyList_IsForwardedByItsName()
    {
        await using var gateway = await GatewayHost.StartAsync(_engine);
        var request = RawHttp2.Frame(new ConfigRequest { SessionId = GatewayHost.NewSessionId() }.ToByteArray());

        var forwarded = await RawHttp2.PostAsync(gateway.Address, Service + "FutureRpc", request, GatewayHost.AliceToken, Cancel);

        Assert.AreEqual(StatusCode.OK, forwarded.Status, forwarded.Message);
        Assert.AreEqual("FutureRpc", _engine.Calls[^1].Method);
    }

    [TestMethod]
    [DataRow("/spark.connect.SparkConnectService/Config", "Config")]
    [DataRow("/spark.connect.SparkConnectService/ExecutePlan", "ExecutePlan")]
    [DataRow("/spark.connect.SparkConnectService/FutureRpc", "FutureRpc")]
    [DataRow("/spark.connect.SparkConnectService/Future_Rpc2", "Future_Rpc2")]
    public void Resolve_PlainNames_AreMethods(string rawTarget, string expected)
        => Assert.AreEqual(expected, SparkConnectMethods.Resolve(rawTarget)!.Name);

    [TestMethod]
    [DataRow("/spark.connect.SparkConnectService/./Config")]
    [DataRow("/x/../spark.connect.SparkConnectService/Config")]
    [DataRow("/spark.connect.SparkConnect%53ervice/Config")]
    [DataRow("/spark.connect.SparkConnectService/Config#x")]
    [DataRow("/spark.connect.SparkConnectService/Config\0")]
    [DataRow("/spark.connect.SparkConnectService/Config ")]
    [DataRow("/spark.connect.SparkConnectService/Cönfig")]
    [DataRow("/spark.connect.SparkConnectService/%43onfig")]
    [DataRow("/spark.connect.SparkConnectService/Config%00")]
    [DataRow("/spark.connect.SparkConnectService/1Config")]
    [DataRow("/spark.connect.SparkConnectService/getstatus")]
    [DataRow(null)]
    public void Resolve_AnythingElse_IsNoMethod(string? rawTarget)
        => Assert.IsNull(SparkConnectMethods.Resolve(rawTarget));

    [TestMethod]
    public void MethodTable_DescribesEachReleasedMethod()
    {
        Assert.HasCount(12, SparkConnectMethods.All);
        Assert.AreEqual(MethodKind.ServerStreaming, SparkConnectMethods.All["ExecutePlan"].Kind);
        Assert.AreEqual(MethodKind.ClientStreaming, SparkConnectMethods.All["AddArtifacts"].Kind);
        Assert.IsTrue(SparkConnectMethods.All["Config"].InspectsResponse);
        Assert.IsTrue(SparkConnectMethods.All["CloneSession"].ClonesSession);
        Assert.IsFalse(SparkConnectMethods.All["ReattachExecute"].MayCreateSession);
        Assert.AreEqual(SparkConnectMethods.OtherMethod, SparkConnectMethods.Resolve(Service + "FutureRpc")!.TelemetryName);
    }

    private static ConfigRequest SetRequest(string session, string key, string value)
    {
        var request = new ConfigRequest { SessionId = session, Operation = new ConfigRequest.Types.Operation { Set = new ConfigRequest.Types.Set() } };
        request.Operation.Set.Pairs.Add(new KeyValue { Key = key, Value = value });
        return request;
    }
}
