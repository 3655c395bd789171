using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// What counting limits across replicas (<c>Redis:ShareLimits</c>) costs per call: two gateways on one real
/// redis-server, both with the Redis session store and the same limits (a call rate and a session limit, set high
/// enough never to refuse), one counting in itself and one in Redis. Rounds are interleaved and the result is printed
/// as on/off ratios. No assertion: a measurement.
/// </summary>
internal static class RedisLimits
{
    public static async Task<int> RunAsync(bool quick)
    {
        const string Executable = "/usr/bin/redis-server";
        if (!File.Exists(Executable))
        {
            Console.WriteLine($"{Executable} is missing: install the Debian package redis-server.");
            return 1;
        }

        var rounds = quick ? 1 : 3;
        var duration = TimeSpan.FromSeconds(quick ? 0.5 : 2);
        Scenario[] scenarios =
        [
            new("config-1", "Config, concurrency 1", ScenarioKind.Unary, 1),
            new("config-64", "Config, concurrency 64", ScenarioKind.Unary, 64),
            new("analyze-1", "AnalyzePlan, concurrency 1", ScenarioKind.Unary, 1, Analyze: true),
        ];

        var directory = Directory.CreateTempSubdirectory("bench-redis-").FullName;
        var port = FreePorts.Pick(1)[0];
        using var redis = Process.Start(new ProcessStartInfo(Executable)
        {
            ArgumentList = { "--bind", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--dir", directory, "--save", "", "--appendonly", "no", "--loglevel", "warning" },
            UseShellExecute = false,
            RedirectStandardOutput = true,
        })!;
        try
        {
            await WaitForPingAsync(port);
            await using var engine = await SyntheticEngine.StartAsync([64 * 1024]);
            var paths = new List<BenchPath>();
            foreach (var shared in new[] { false, true })
            {
                paths.Add(await Hosts.GatewayAsync(engine.Address, shared ? "redis-shared" : "redis-local", configure: o =>
                {
                    o.Limits.CallsPerSecondPerUser = 1_000_000;
                    o.Limits.MaxSessionsPerUser = 1_000_000;
                }, build: g => g.AddRedisSessionStore(o =>
                {
                    o.Configuration = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
                    o.KeyPrefix = "bench-" + (shared ? "shared" : "local");
                    o.ShareLimits = shared;
                })));
            }

            try
            {
                var cells = paths.ToDictionary(p => p.Name, _ => scenarios.ToDictionary(s => s.Id, _ => new Cell()));
                foreach (var path in paths)
                {
                    foreach (var scenario in scenarios)
                    {
                        await Measure.RunAsync(path, scenario, TimeSpan.FromSeconds(0.3), new Cell());
                    }
                }

                for (var round = 0; round < rounds; round++)
                {
                    foreach (var scenario in scenarios)
                    {
                        for (var i = 0; i < paths.Count; i++)
                        {
                            var path = paths[(i + round) % paths.Count];
                            await Measure.RunAsync(path, scenario, duration, cells[path.Name][scenario.Id]);
                        }
                    }
                }

                Console.WriteLine($"Redis:ShareLimits on against off, {Environment.ProcessorCount} cores, {rounds} round(s) of {duration.TotalSeconds:F1} s; both with the Redis session store, a call rate and a session limit");
                Console.WriteLine("| scenario | off calls/s | on calls/s | on/off throughput | off p50 µs | on p50 µs | on/off p50 | failed calls off/on |");
                Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
                foreach (var scenario in scenarios)
                {
                    var off = cells["redis-local"][scenario.Id];
                    var on = cells["redis-shared"][scenario.Id];
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {scenario.Label} | {off.CallsPerSecond:F0} | {on.CallsPerSecond:F0} | {on.CallsPerSecond / off.CallsPerSecond:F2} | {off.PercentileMicroseconds(0.5):F0} | {on.PercentileMicroseconds(0.5):F0} | {on.PercentileMicroseconds(0.5) / off.PercentileMicroseconds(0.5):F2} | {off.Failures}/{on.Failures} |"));
                }
            }
            finally
            {
                foreach (var path in paths)
                {
                    await path.DisposeAsync();
                }
            }
        }
        finally
        {
            redis.Kill();
            await redis.WaitForExitAsync();
            Directory.Delete(directory, recursive: true);
        }

        return 0;
    }

    private static async Task WaitForPingAsync(int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray());
                var buffer = new byte[16];
                var read = await stream.ReadAsync(buffer);
                if (Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
            }

            await Task.Delay(50);
        }
    }
}
