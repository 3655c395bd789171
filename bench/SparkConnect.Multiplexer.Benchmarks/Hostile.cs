using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// The gateway under hostile load (issue 11), as deployed: in its own process, the engine in another one.
/// 1. 1,000 slow ExecutePlan streams held open at once, through the gateway and direct to the engine;
/// 2. 1,000 unauthenticated calls each carrying a gzip bomb (100 MiB of zeros, about 100 KB on the wire);
/// 3. the time from the engine's death (SIGKILL, mid-message) to the client's status.
/// </summary>
internal static class Hostile
{
    public const int BatchBytes = 64 * 1024;
    private const int Streams = 1000;
    private const int StreamBatches = 4;
    private const int StreamDelayMs = 750;
    private const int Bombs = 1000;
    private const int BombConcurrency = 32;
    private const int BombMib = 100;
    private const string Service = "spark.connect.SparkConnectService";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create<byte[]>(static b => b, static b => b);
    private static readonly Method<byte[], byte[]> ExecuteMethod = new(MethodType.ServerStreaming, Service, "ExecutePlan", Bytes, Bytes);
    private static readonly Method<byte[], byte[]> ConfigMethod = new(MethodType.Unary, Service, "Config", Bytes, Bytes);

    public static async Task<int> RunAsync(string? repoRoot)
    {
        var total = Stopwatch.StartNew();
        var machine = $"{Cpu()}, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.OSArchitecture}, .NET {Environment.Version}, Server GC {GCSettings.IsServerGC}";
        Console.WriteLine($"SparkConnect.Multiplexer hostile run: {machine}");
        var engine = await ChildProcess.StartEngineAsync();
        StreamFigures direct, viaGateway, secondWave, viaWorkstation;
        DeathFigures deathGateway, deathBoundary, deathInProcess, deathDirect;
        BombFigures bomb;
        AuthenticatedBombFigures[] authenticated;
        BombInProcessFigures bombInProcess;
        try
        {
            await using (var gateway = await ChildProcess.StartGatewayAsync(engine.Address))
            {
                Console.WriteLine($"1. {Streams} streams ({total.Elapsed.TotalSeconds:F0} s)");
                await StreamWaveAsync(engine.Address, 20, null, null);
                await StreamWaveAsync(gateway.Address, 20, null, null);
                await Task.Delay(1000);
                direct = await StreamWaveAsync(engine.Address, Streams, engine, null);
                await Task.Delay(1000);
                viaGateway = await StreamWaveAsync(gateway.Address, Streams, engine, gateway);
                await Task.Delay(1000);
                secondWave = await StreamWaveAsync(gateway.Address, Streams, engine, gateway);
                await using (var workstation = await ChildProcess.StartGatewayAsync(engine.Address, new Dictionary<string, string>(StringComparer.Ordinal) { ["DOTNET_gcServer"] = "0" }))
                {
                    await StreamWaveAsync(workstation.Address, 20, null, null);
                    await Task.Delay(1000);
                    viaWorkstation = await StreamWaveAsync(workstation.Address, Streams, engine, workstation);
                }

                Console.WriteLine($"3. engine death ({total.Elapsed.TotalSeconds:F0} s)");
                (deathGateway, engine) = await DeathTrialsAsync("gateway process", 20, gateway.Address, engine);
                (deathBoundary, engine) = await DeathTrialsAsync("gateway process", 10, gateway.Address, engine, "boundary");
                await using var inProcess = await Hosts.GatewayAsync(engine.Address, "gateway in-process");
                (deathInProcess, engine) = await DeathTrialsAsync("gateway in-process", 10, inProcess.Address, engine);
                (deathDirect, engine) = await DeathTrialsAsync("direct", 5, engine.Address, engine);
            }

            Console.WriteLine($"2. {Bombs} gzip bombs ({total.Elapsed.TotalSeconds:F0} s)");
            var frame = BombFrame();
            await using (var gateway = await ChildProcess.StartGatewayAsync(engine.Address))
            {
                bomb = await BombAsync(gateway, frame);
            }

            await using (var inProcess = await Hosts.GatewayAsync(engine.Address, "gateway in-process"))
            {
                bombInProcess = await BombInProcessAsync(inProcess, frame);
            }

            authenticated =
            [
                await AuthenticatedBombAsync(engine.Address, frame, 16 * 1024 * 1024, 200, BombConcurrency),
                await AuthenticatedBombAsync(engine.Address, frame, null, 20, 4),
            ];
        }
        finally
        {
            await engine.DisposeAsync();
        }

        var markdown = Render(machine, direct, [viaGateway, secondWave, viaWorkstation], bomb, bombInProcess, authenticated, [deathGateway, deathBoundary, deathInProcess, deathDirect], total.Elapsed);
        Console.WriteLine();
        Console.WriteLine(markdown);
        if (repoRoot is not null)
        {
            var docs = Path.Combine(repoRoot, "docs");
            Directory.CreateDirectory(docs);
            var file = Path.Combine(docs, "benchmarks-hostile.md");
            await File.WriteAllTextAsync(file, markdown);
            Console.WriteLine($"wrote {file}");
        }

        Console.WriteLine($"done in {total.Elapsed.TotalSeconds:F0} s");
        return viaGateway.Ok == Streams && bomb.Alive && deathGateway.AllUnavailable ? 0 : 1;
    }

    // ---- 1. streams held open ----

    private static async Task<StreamFigures> StreamWaveAsync(Uri address, int count, ChildProcess? engine, ChildProcess? gateway)
    {
        using var channel = Channel(address);
        var invoker = channel.CreateCallInvoker();
        var open = 0;
        var peakOpen = 0;
        var ok = 0;
        var statuses = new Dictionary<string, int>(StringComparer.Ordinal);
        var durations = new double[count];
        var engineIdle = engine?.Rss() ?? 0;
        var gatewayIdle = gateway?.Rss() ?? 0;
        using var engineSampler = engine is null ? null : new RssSampler(engine.Id);
        using var gatewaySampler = gateway is null ? null : new RssSampler(gateway.Id);
        var start = Stopwatch.GetTimestamp();
        var calls = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            var t0 = Stopwatch.GetTimestamp();
            var headers = new Metadata
            {
                { "authorization", "Bearer " + BenchRequests.Token },
                { SyntheticEngine.BatchesHeader, StreamBatches.ToString(Inv) },
                { SyntheticEngine.BatchBytesHeader, BatchBytes.ToString(Inv) },
                { SyntheticEngine.DelayHeader, StreamDelayMs.ToString(Inv) },
            };
            var first = true;
            try
            {
                // One session per stream: the worst case for the gateway's session table.
                using var call = invoker.AsyncServerStreamingCall(ExecuteMethod, null, new CallOptions(headers, DateTime.UtcNow.AddSeconds(120)), BenchRequests.Execute(Guid.NewGuid().ToString()));
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    if (first)
                    {
                        first = false;
                        var now = Interlocked.Increment(ref open);
                        int seen;
                        while (now > (seen = Volatile.Read(ref peakOpen)) && Interlocked.CompareExchange(ref peakOpen, now, seen) != seen)
                        {
                        }
                    }
                }

                Interlocked.Increment(ref ok);
                Count(statuses, "OK");
            }
            catch (RpcException e)
            {
                Count(statuses, e.StatusCode.ToString());
            }
            finally
            {
                if (!first)
                {
                    Interlocked.Decrement(ref open);
                }

                durations[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
        })).ToArray();
        await Task.WhenAll(calls);
        var wall = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Array.Sort(durations);
        var figures = new StreamFigures(
            count, ok, peakOpen, statuses, wall, durations[count / 2], durations[^1],
            engineIdle, engineSampler?.Peak ?? 0, gatewayIdle, gatewaySampler?.Peak ?? 0);
        if (count == Streams)
        {
            Console.WriteLine($"   {(gateway is null ? "direct" : "gateway")}: {ok}/{count} OK, peak open {peakOpen}, wall {wall:F0} ms, engine RSS {Mib(figures.EngineIdle)} -> {Mib(figures.EnginePeak)}"
                + (gateway is null ? "" : $", gateway RSS {Mib(gatewayIdle)} -> {Mib(figures.GatewayPeak)}"));
        }

        return figures;
    }

    private static GrpcChannel Channel(Uri address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        MaxReceiveMessageSize = null,
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        },
    });

    private static void Count(Dictionary<string, int> counts, string key)
    {
        lock (counts)
        {
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
    }

    // ---- 2. gzip bombs ----

    /// <summary>One gRPC message: compressed flag 1, then gzip of 100 MiB of zeros.</summary>
    private static byte[] BombFrame()
    {
        using var buffer = new MemoryStream();
        buffer.Write(new byte[5]);
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < BombMib; i++)
            {
                gzip.Write(zeros);
            }
        }

        var frame = buffer.ToArray();
        frame[0] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), frame.Length - 5);
        return frame;
    }

    private static async Task<BombFigures> BombAsync(ChildProcess gateway, byte[] frame)
    {
        // Warm-up: valid calls and a few small refused ones, so start-up and JIT are not counted as the bombs'.
        using (var channel = Channel(gateway.Address))
        {
            var invoker = channel.CreateCallInvoker();
            var auth = new Metadata { { "authorization", "Bearer " + BenchRequests.Token } };
            for (var i = 0; i < 20; i++)
            {
                await invoker.AsyncUnaryCall(ConfigMethod, null, new CallOptions(auth), BenchRequests.Config(Guid.NewGuid().ToString()));
            }
        }

        using var http = BombClient();
        for (var i = 0; i < 5; i++)
        {
            await SendBombAsync(http, gateway.Address, new byte[] { 0, 0, 0, 0, 0 }, token: null);
        }

        await Task.Delay(2000);
        var before = gateway.Rss();
        var statuses = new Dictionary<string, int>(StringComparer.Ordinal);
        var times = new double[Bombs];
        using var sampler = new RssSampler(gateway.Id);
        var start = Stopwatch.GetTimestamp();
        await SendBombsAsync(http, gateway.Address, frame, statuses, times);
        var wall = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var peak = sampler.Peak;
        var afterAtOnce = gateway.Rss();
        await Task.Delay(2000);
        var after = gateway.Rss();
        Array.Sort(times);
        var figures = new BombFigures(frame.Length, statuses, wall, times[Bombs / 2], times[^1], before, peak, afterAtOnce, after, !gateway.HasExited);
        Console.WriteLine($"   gateway process RSS before {Mib(before)}, peak {Mib(peak)}, after {Mib(after)} (delta {Mib(after - before)}); {Describe(statuses)}");
        return figures;
    }

    /// <summary>
    /// Bombs with a valid token on a fresh gateway process: what an authenticated user can make the gateway inflate.
    /// With <paramref name="maxMessageSize"/> the gateway's MaxMessageSize is set below the bomb's inflated size.
    /// </summary>
    private static async Task<AuthenticatedBombFigures> AuthenticatedBombAsync(Uri engine, byte[] frame, int? maxMessageSize, int count, int concurrency)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (maxMessageSize is { } limit)
        {
            environment["SparkConnectGateway__MaxMessageSize"] = limit.ToString(Inv);
        }

        await using var gateway = await ChildProcess.StartGatewayAsync(engine, environment);
        using var http = BombClient();
        for (var i = 0; i < 5; i++)
        {
            await SendBombAsync(http, gateway.Address, new byte[] { 0, 0, 0, 0, 0 }, BenchRequests.Token);
        }

        await Task.Delay(2000);
        var before = gateway.Rss();
        var statuses = new Dictionary<string, int>(StringComparer.Ordinal);
        var times = new double[count];
        using var sampler = new RssSampler(gateway.Id);
        await SendBombsAsync(http, gateway.Address, frame, statuses, times, concurrency, _ => BenchRequests.Token);
        var peak = sampler.Peak;
        await Task.Delay(2000);
        var after = gateway.Rss();
        Array.Sort(times);
        var figures = new AuthenticatedBombFigures(maxMessageSize, count, concurrency, statuses, times[count / 2], before, peak, after);
        Console.WriteLine($"   authenticated, MaxMessageSize {(maxMessageSize is null ? "default" : Mib(maxMessageSize.Value))}: RSS before {Mib(before)}, peak {Mib(peak)}, after {Mib(after)}; {Describe(statuses)}");
        return figures;
    }

    private static async Task<BombInProcessFigures> BombInProcessAsync(BenchPath gateway, byte[] frame)
    {
        using var http = BombClient();
        for (var i = 0; i < 5; i++)
        {
            await SendBombAsync(http, gateway.Address, new byte[] { 0, 0, 0, 0, 0 }, token: null);
        }

        var statuses = new Dictionary<string, int>(StringComparer.Ordinal);
        var times = new double[Bombs];
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        await SendBombsAsync(http, gateway.Address, frame, statuses, times);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        var figures = new BombInProcessFigures(statuses, allocated / Bombs, heapBefore, heapAfter);
        Console.WriteLine($"   in-process: {allocated / Bombs} B allocated per call (client and gateway), managed heap {Mib(heapBefore)} -> {Mib(heapAfter)}; {Describe(statuses)}");
        return figures;
    }

    private static HttpClient BombClient() => new(new SocketsHttpHandler
    {
        EnableMultipleHttp2Connections = true,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
    });

    /// <summary>Half the bombs carry a wrong token (counted by the failure throttle), half none.</summary>
    private static string? Unauthenticated(int i) => i % 2 == 0 ? null : "wrong-token-" + i.ToString(Inv);

    private static Task SendBombsAsync(HttpClient http, Uri address, byte[] frame, Dictionary<string, int> statuses, double[] times)
        => SendBombsAsync(http, address, frame, statuses, times, BombConcurrency, Unauthenticated);

    private static async Task SendBombsAsync(HttpClient http, Uri address, byte[] frame, Dictionary<string, int> statuses, double[] times, int concurrency, Func<int, string?> token)
    {
        var next = -1;
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < times.Length)
            {
                var t0 = Stopwatch.GetTimestamp();
                var status = await SendBombAsync(http, address, frame, token(i));
                times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                Count(statuses, status);
            }
        })).ToArray();
        await Task.WhenAll(workers);
    }

    /// <summary>A hand-made gRPC call (grpc-encoding gzip, compressed flag 1); returns the status name the client saw.</summary>
    private static async Task<string> SendBombAsync(HttpClient http, Uri address, byte[] frame, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(address, $"/{Service}/ExecutePlan"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");
        request.Headers.TryAddWithoutValidation("grpc-accept-encoding", "identity,gzip");
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("authorization", "Bearer " + token);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = response.Headers.TryGetValues("grpc-status", out var values) ? values.First() : null;
            if (status is null)
            {
                await (await response.Content.ReadAsStreamAsync(timeout.Token)).CopyToAsync(Stream.Null, timeout.Token);
                status = response.TrailingHeaders.TryGetValues("grpc-status", out var trailing) ? trailing.First() : null;
            }

            return status is null ? $"HTTP {(int)response.StatusCode} without grpc-status"
                : int.TryParse(status, Inv, out var code) ? ((StatusCode)code).ToString() : status;
        }
        catch (HttpRequestException e)
        {
            return "HTTP/2 reset " + ResetCode(e);
        }
        catch (IOException e)
        {
            return "HTTP/2 reset " + ResetCode(e);
        }
        catch (OperationCanceledException)
        {
            return "no answer in 60 s";
        }
    }

    /// <summary>The HTTP/2 error code of a stream reset, wherever the client put it.</summary>
    private static string ResetCode(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is HttpProtocolException protocol)
            {
                return protocol.ErrorCode switch
                {
                    0 => "NO_ERROR",
                    1 => "PROTOCOL_ERROR",
                    2 => "INTERNAL_ERROR",
                    5 => "STREAM_CLOSED",
                    7 => "REFUSED_STREAM",
                    8 => "CANCEL",
                    11 => "ENHANCE_YOUR_CALM",
                    var code => "0x" + code.ToString("x", Inv),
                };
            }
        }

        return "(" + (e.InnerException ?? e).GetType().Name + ": " + (e.InnerException ?? e).Message + ")";
    }

    // ---- 3. engine death ----

    private static async Task<(DeathFigures Figures, ChildProcess Engine)> DeathTrialsAsync(string target, int trials, Uri address, ChildProcess engine, string hang = "mid")
    {
        var port = engine.Address.Port;
        var times = new List<double>();
        var statuses = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var trial = 0; trial < trials; trial++)
        {
            // A fresh channel per trial: the client's own connection state plays no part.
            using var channel = Channel(address);
            var invoker = channel.CreateCallInvoker();
            var headers = new Metadata
            {
                { "authorization", "Bearer " + BenchRequests.Token },
                { SyntheticEngine.BatchesHeader, "1" },
                { SyntheticEngine.BatchBytesHeader, BatchBytes.ToString(Inv) },
                { SyntheticEngine.HangHeader, hang },
            };
            using var call = invoker.AsyncServerStreamingCall(ExecuteMethod, null, new CallOptions(headers), BenchRequests.Execute(Guid.NewGuid().ToString()));
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            string status;
            try
            {
                if (!await call.ResponseStream.MoveNext(limit.Token))
                {
                    throw new InvalidOperationException("the engine sent no batch");
                }

                // Let the start of the cut message (for "mid") reach the gateway, then kill the engine.
                await Task.Delay(50);
                var t0 = Stopwatch.GetTimestamp();
                engine.Kill();
                try
                {
                    while (await call.ResponseStream.MoveNext(limit.Token))
                    {
                    }

                    status = "OK (stream not cut)";
                }
                catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled || !limit.IsCancellationRequested)
                {
                    times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    status = e.StatusCode.ToString();
                }
            }
            catch (RpcException e) when (limit.IsCancellationRequested || e.StatusCode == StatusCode.Cancelled)
            {
                status = "no status in 30 s";
            }
            catch (RpcException e)
            {
                status = "before the first batch: " + e.StatusCode;
            }
            catch (OperationCanceledException)
            {
                status = "no status in 30 s";
            }

            Count(statuses, status);
            await engine.DisposeAsync();

            // On the port the killed engine held: the gateway under test is configured with that address. The port
            // was the engine's until now, so nothing else is likely to hold it; a new port would need a new gateway.
            engine = await ChildProcess.StartEngineAsync(port);
        }

        times.Sort();
        var figures = new DeathFigures(hang == "mid" ? target : $"{target}, at a message boundary", trials, statuses, times.Count > 0 ? times[times.Count / 2] : double.NaN, times.Count > 0 ? times[^1] : double.NaN);
        Console.WriteLine($"   {target}: p50 {figures.P50:F1} ms, max {figures.Max:F1} ms; {Describe(statuses)}");
        return (figures, engine);
    }

    // ---- report ----

    private static string Render(string machine, StreamFigures direct, StreamFigures[] waves, BombFigures bomb, BombInProcessFigures bombInProcess, AuthenticatedBombFigures[] authenticated, DeathFigures[] deaths, TimeSpan elapsed)
    {
        var (gateway, second, workstation) = (waves[0], waves[1], waves[2]);
        var md = new StringBuilder();
        md.AppendLine("# SparkConnect.Multiplexer under hostile load");
        md.AppendLine();
        md.AppendLine("Generated by `dotnet run -c Release --project bench/SparkConnect.Multiplexer.Benchmarks -- --hostile` (issue 11); do not edit by hand.");
        md.AppendLine();
        md.AppendLine(Inv, $"- Machine: {machine}. **Shared** with other engineers' builds while measuring: treat single figures as noisy.");
        md.AppendLine("- The gateway runs in its own process, as the sample host runs it with `EngineMode` Static (full `WebApplication.CreateBuilder`, configuration from environment variables, Server GC, Warning logging), on loopback h2c; the synthetic engine runs in a third process. RSS is VmRSS from /proc, sampled every 10 ms.");
        md.AppendLine(Inv, $"- Run took {elapsed.TotalSeconds:F0} s.");
        md.AppendLine();
        md.AppendLine("| Figure | Gateway process | Baseline | Ratio |");
        md.AppendLine("|---|---:|---:|---:|");
        md.AppendLine(Inv, $"| {Streams} concurrent ExecutePlan streams ({StreamBatches} × 64 KiB batches, {StreamDelayMs} ms apart): completed OK | {gateway.Ok}/{gateway.Count} | {direct.Ok}/{direct.Count} direct | |");
        md.AppendLine(Inv, $"| Streams open at once (peak, seen by the client) | {gateway.PeakOpen} | {direct.PeakOpen} direct | |");
        md.AppendLine(Inv, $"| RSS peak per {Streams} streams (peak − idle) | {Mib(gateway.GatewayPeak - gateway.GatewayIdle)} (idle {Mib(gateway.GatewayIdle)}) | {Mib(direct.EnginePeak - direct.EngineIdle)} engine, direct (idle {Mib(direct.EngineIdle)}) | {Ratio(gateway.GatewayPeak - gateway.GatewayIdle, direct.EnginePeak - direct.EngineIdle)} |");
        md.AppendLine(Inv, $"| Second wave on the same gateway process: OK; RSS peak − idle before the first wave | {second.Ok}/{second.Count}; {Mib(second.GatewayPeak - gateway.GatewayIdle)} | {Mib(direct.EnginePeak - direct.EngineIdle)} engine, direct | {Ratio(second.GatewayPeak - gateway.GatewayIdle, direct.EnginePeak - direct.EngineIdle)} |");
        md.AppendLine(Inv, $"| Gateway process with Workstation GC (`DOTNET_gcServer=0`): OK; RSS peak per {Streams} streams | {workstation.Ok}/{workstation.Count}; {Mib(workstation.GatewayPeak - workstation.GatewayIdle)} (idle {Mib(workstation.GatewayIdle)}) | {Mib(direct.EnginePeak - direct.EngineIdle)} engine (Server GC), direct | {Ratio(workstation.GatewayPeak - workstation.GatewayIdle, direct.EnginePeak - direct.EngineIdle)} |");
        md.AppendLine(Inv, $"| Wave wall time / stream p50 / stream max | {gateway.WallMs:F0} / {gateway.P50Ms:F0} / {gateway.MaxMs:F0} ms | {direct.WallMs:F0} / {direct.P50Ms:F0} / {direct.MaxMs:F0} ms direct | {Ratio(gateway.WallMs, direct.WallMs)} |");
        md.AppendLine(Inv, $"| {Bombs} unauthenticated gzip bombs ({BombMib} MiB of zeros, {bomb.FrameBytes / 1024.0:F0} KiB on the wire, half wrong token, half none): status | {Describe(bomb.Statuses)} | | |");
        md.AppendLine(Inv, $"| Gateway RSS before → after the bombs (delta; target ≤ 64 MiB) | {Mib(bomb.Before)} → {Mib(bomb.After)} ({Delta(bomb.After - bomb.Before)}: {(bomb.After - bomb.Before <= 64L * 1024 * 1024 && bomb.Alive ? "met" : "**not met**")}) | | |");
        md.AppendLine(Inv, $"| Gateway RSS peak during the bombs (delta) | {Mib(bomb.Peak)} ({Delta(bomb.Peak - bomb.Before)}) | | |");
        md.AppendLine(Inv, $"| Bomb call time p50 / max; all {Bombs} | {bomb.P50Ms:F1} / {bomb.MaxMs:F1} ms; {bomb.WallMs:F0} ms | | |");
        md.AppendLine(Inv, $"| Gateway in-process, same bombs: allocated per call (client and gateway) / managed heap after | {Size(bombInProcess.AllocatedPerCall)} / {Mib(bombInProcess.HeapBefore)} → {Mib(bombInProcess.HeapAfter)} | | |");
        foreach (var a in authenticated)
        {
            md.AppendLine(Inv, $"| {a.Count} gzip bombs with a **valid** token, {a.Concurrency} in flight, MaxMessageSize {(a.MaxMessageSize is { } m ? Mib(m) : "default (128 MiB)")}: status; RSS before → peak → after | {Describe(a.Statuses)}; {Mib(a.Before)} → {Mib(a.Peak)} → {Mib(a.After)} | | |");
        }

        foreach (var death in deaths)
        {
            md.AppendLine(Inv, $"| Engine SIGKILLed → client status, {death.Target}, {death.Trials} trials: p50 / max | {death.P50:F1} / {death.Max:F1} ms | {Describe(death.Statuses)} | |");
        }

        md.AppendLine();
        md.AppendLine("## Method");
        md.AppendLine();
        md.AppendLine(Inv, $"- Streams: one client channel (several HTTP/2 connections), {Streams} ExecutePlan calls started at once, each a new session; the engine sends {StreamBatches} arrow batches of 64 KiB {StreamDelayMs} ms apart, then result_complete. The same wave runs direct to the engine first (baseline: the engine's own RSS growth), then through the gateway. Ratio: gateway RSS growth over the engine's RSS growth for the same streams.");
        md.AppendLine("- Bombs: hand-made HTTP/2 requests to ExecutePlan with `grpc-encoding: gzip` and one message with compressed flag 1, 32 in flight, on a fresh gateway process after 20 valid calls and 5 small refused ones; RSS before is read 2 s after the warm-up, after 2 s after the last call, without forcing a collection. The in-process line runs the same bombs against a gateway hosted in the bench process (forced collections around it).");
        md.AppendLine("- Authenticated bombs: the same frame with the bench user's token on a fresh gateway process each, once with MaxMessageSize 16 MiB (below the bomb's 100 MiB: the exact cap), once with the default; what a signed-in user can make the gateway inflate.");
        md.AppendLine("- Engine death: the engine sends one 64 KiB batch, then (mid-message) a gRPC prefix declaring 1 MiB and 4 KiB of it, or (at a message boundary) nothing more, and waits; 50 ms after the client has the first batch the bench SIGKILLs the engine process and times until the client's call fails. A new engine process is started on the same port for each trial (not timed). `direct` is the client's own view without a gateway.");
        md.AppendLine();
        md.AppendLine("## Reading the figures");
        md.AppendLine();
        md.AppendLine("- Streams: the gateway holds each stream twice (the client's HTTP/2 stream in Kestrel and the engine's in SocketsHttpHandler) plus a session per stream here, so a ratio near 2–3 against the engine's own growth is the expected order; the Workstation GC line tells heap-budget effects from per-stream cost. With 64 KiB batches the per-stream buffers dominate; divide the growth by 1,000 for the cost of one open stream.");
        md.AppendLine("- Unauthenticated bombs: the gateway refuses from the headers, before reading a body byte, so nothing is inflated. A refused call ends as `UNAUTHENTICATED`, or, when the client is still uploading the body nobody reads, as an HTTP/2 stream reset from Kestrel (`ENHANCE_YOUR_CALM` once too many finished-but-still-uploading streams pile up on a connection; gRPC clients report it as `RESOURCE_EXHAUSTED`) or an aborted request. None is `UNAVAILABLE` or `INTERNAL`, and the gateway stays up.");
        md.AppendLine("- Authenticated bombs: a signed-in caller's compressed message is inflated up to `MaxMessageSize` (exactly: one byte more is `RESOURCE_EXHAUSTED`) into pooled 64 KiB chunks, so each such call in flight holds the bytes it has inflated so far and no more (no doubling, no copies; the previous run, with doubling buffers, peaked at 688 MiB and 1,748 MiB on the same two lines); what RSS shows afterwards is the runtime's (Server GC keeps freed memory committed for a while). Set `MaxMessageSize` to what the clients need: no limit today counts the bytes a user has being inflated (the per-user limits count sessions and executions).");
        md.AppendLine("- Engine death: the time is the gateway noticing the closed connection and answering the client (reset with `REFUSED_STREAM` mid-message, trailers at a boundary); both read as `UNAVAILABLE`, which Spark clients retry or reattach on.");
        return md.ToString();
    }

    private static string Describe(Dictionary<string, int> statuses)
        => string.Join(", ", statuses.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}"));

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("F1", Inv) + " MiB";

    private static string Delta(long bytes) => (bytes >= 0 ? "+" : "") + Mib(bytes);

    private static string Size(long bytes) => bytes >= 10240 ? (bytes / 1024.0).ToString("F1", Inv) + " KiB" : bytes.ToString(Inv) + " B";

    private static string Ratio(double value, double baseline) => baseline > 0 ? (value / baseline).ToString("F2", Inv) + "×" : "n/a";

    private static string Cpu()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}

internal sealed record StreamFigures(
    int Count, int Ok, int PeakOpen, Dictionary<string, int> Statuses, double WallMs, double P50Ms, double MaxMs,
    long EngineIdle, long EnginePeak, long GatewayIdle, long GatewayPeak);

internal sealed record BombFigures(
    int FrameBytes, Dictionary<string, int> Statuses, double WallMs, double P50Ms, double MaxMs,
    long Before, long Peak, long AfterAtOnce, long After, bool Alive);

internal sealed record AuthenticatedBombFigures(
    int? MaxMessageSize, int Count, int Concurrency, Dictionary<string, int> Statuses, double P50Ms, long Before, long Peak, long After);

internal sealed record BombInProcessFigures(Dictionary<string, int> Statuses, long AllocatedPerCall, long HeapBefore, long HeapAfter);

internal sealed record DeathFigures(string Target, int Trials, Dictionary<string, int> Statuses, double P50, double Max)
{
    public bool AllUnavailable => Statuses.Count == 1 && Statuses.ContainsKey(nameof(StatusCode.Unavailable));
}
