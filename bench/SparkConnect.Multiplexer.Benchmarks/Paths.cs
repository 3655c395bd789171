using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>One way for the client to reach the engine.</summary>
internal sealed class BenchPath(string name, Uri address, Func<ValueTask>? stop = null, IServiceProvider? services = null) : IAsyncDisposable
{
    public string Name { get; } = name;

    public Uri Address { get; } = address;

    /// <summary>The in-process host's services (the gateway's, for the session figures).</summary>
    public IServiceProvider? Services { get; } = services;

    public BenchClient Client { get; } = new(address);

    /// <summary>The processes serving this path when it runs outside the bench (deployed mode), for CPU and memory.</summary>
    public Func<IReadOnlyList<int>>? Processes { get; init; }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (stop is not null)
        {
            await stop();
        }
    }
}

internal static class Hosts
{
    private static readonly string[] NginxLocations = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"];

    public static BenchPath Direct(SyntheticEngine engine) => new("direct", engine.Address);

    /// <summary>The gateway as the tests host it: slim builder, Kestrel HTTP/2 on loopback, static token, static engine.</summary>
    public static async Task<BenchPath> GatewayAsync(Uri engine, string name = "gateway", Action<ISparkConnectGatewayBuilder>? build = null, Action<SparkConnectGatewayOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        var gateway = builder.Services.AddSparkConnectGateway(o =>
        {
            o.Health.ProbeInterval = TimeSpan.Zero;
            o.DrainTimeout = TimeSpan.FromSeconds(1);
            o.Authentication.Tokens.Add(new StaticTokenOptions { Token = BenchRequests.Token, User = BenchRequests.User });
            for (var i = 0; i < 8; i++)
            {
                o.Authentication.Tokens.Add(new StaticTokenOptions { Token = LaunchToken(i), User = "launch" + i.ToString(CultureInfo.InvariantCulture) });
            }

            if (build is null || configure is not null)
            {
                o.Engines.Default = new StaticEngineOptions { Address = engine.ToString() };
            }

            configure?.Invoke(o);
        });
        build?.Invoke(gateway);
        var app = builder.Build();
        app.MapSparkConnectGateway();
        await app.StartAsync();
        return new BenchPath(name, AddressOf(app), () => StopAsync(app), app.Services);
    }

    public static Task<BenchPath> PrototypeAsync(Uri engine, string name, RelayVariant variant) => PrototypeForwarder.StartAsync(engine, name, variant);

    public static string LaunchToken(int i) => "launch-token-" + i.ToString("D4", CultureInfo.InvariantCulture) + "-0123456789abcdef";

    /// <summary>YARP 2.3 in a small host: one catch-all route, HTTP/2 (exact) to the engine.</summary>
    public static async Task<BenchPath> YarpAsync(Uri engine)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var app = YarpApp(builder, 0, engine);
        await app.StartAsync();
        return new BenchPath("yarp", AddressOf(app), () => StopAsync(app));
    }

    /// <summary>The YARP host on a builder: HTTP/2 on loopback, one catch-all route to the engine.</summary>
    public static WebApplication YarpApp(WebApplicationBuilder builder, int port, Uri engine)
    {
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddReverseProxy().LoadFromMemory(
            [new RouteConfig { RouteId = "spark", ClusterId = "engine", Match = new RouteMatch { Path = "{**catch-all}" } }],
            [
                new ClusterConfig
                {
                    ClusterId = "engine",
                    Destinations = new Dictionary<string, DestinationConfig>(StringComparer.Ordinal) { ["engine"] = new() { Address = engine.ToString() } },
                    HttpRequest = new ForwarderRequestConfig { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact },
                },
            ]);
        var app = builder.Build();
        app.MapReverseProxy();
        return app;
    }

    /// <summary>Debian nginx with its own prefix and configuration, h2c listener, grpc_pass to the engine.</summary>
    public static async Task<(BenchPath? Path, string? Skipped)> NginxAsync(Uri engine)
    {
        var binary = NginxLocations.FirstOrDefault(File.Exists)
            ?? FindOnPath("nginx");
        if (binary is null)
        {
            return (null, "nginx not found (/usr/sbin/nginx or PATH); install it to measure it: sudo apt-get install -y nginx (Debian/Ubuntu; the bench starts its own, on a free loopback port)");
        }

        var version = await VersionAsync(binary);
        if (version is null)
        {
            return (null, $"'{binary} -v' failed");
        }

        try
        {
            // nginx cannot bind port 0 and say which port it got: a picked port, and a new one when it lost the race.
            return (await FreePorts.StartAsync(1, ports => StartNginxAsync(binary, version, ports[0], engine)), null);
        }
        catch (InvalidOperationException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>nginx on <paramref name="port"/>; throws with its error output when it exits or does not listen.</summary>
    private static async Task<BenchPath> StartNginxAsync(string binary, Version version, int port, Uri engine)
    {
        var prefix = Directory.CreateTempSubdirectory("bench-nginx-").FullName;
        var listen = version >= new Version(1, 25, 1)
            ? $"listen 127.0.0.1:{port};\n        http2 on;"
            : $"listen 127.0.0.1:{port} http2;";
        var conf = $$"""
            daemon off;
            master_process on;
            worker_processes auto;
            error_log {{prefix}}/error.log warn;
            pid {{prefix}}/nginx.pid;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path {{prefix}}/client_body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;
                client_max_body_size 0;
                upstream engine {
                    server {{engine.Host}}:{{engine.Port}};
                    keepalive 128;
                }
                server {
                    {{listen}}
                    http2_max_concurrent_streams 1024;
                    location / {
                        grpc_pass grpc://engine;
                        grpc_read_timeout 300s;
                        grpc_send_timeout 300s;
                        {{NginxLocationExtra}}
                    }
                }
            }
            """;
        var confPath = Path.Combine(prefix, "nginx.conf");
        await File.WriteAllTextAsync(confPath, conf);
        var process = Process.Start(new ProcessStartInfo(binary)
        {
            ArgumentList = { "-p", prefix, "-c", confPath, "-e", Path.Combine(prefix, "error.log") },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Kill(process);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (process.HasExited)
            {
                var log = File.Exists(Path.Combine(prefix, "error.log")) ? await File.ReadAllTextAsync(Path.Combine(prefix, "error.log")) : "";
                var failure = $"nginx {version} exited with {process.ExitCode}: {(await process.StandardError.ReadToEndAsync()).Trim()} {log.Trim()}";
                process.Dispose();
                DeleteDirectory(prefix);
                throw new InvalidOperationException(failure);
            }

            // nginx writes its pid file once it has bound its listening sockets (and exits when it cannot), so the
            // file names a master that listens on the port; a probe could reach a process that took the port first
            // while nginx still tries to bind it.
            if (await ReadPidAsync(Path.Combine(prefix, "nginx.pid")) == process.Id)
            {
                var master = process.Id;
                return new BenchPath("nginx", new Uri($"http://127.0.0.1:{port}"), () =>
                {
                    Kill(process);
                    process.Dispose();
                    DeleteDirectory(prefix);
                    return ValueTask.CompletedTask;
                })
                { Processes = () => Memory.WithChildren(master) };
            }

            await Task.Delay(50);
        }

        Kill(process);
        process.Dispose();
        DeleteDirectory(prefix);
        throw new InvalidOperationException("nginx did not listen within 10 s");
    }

    private static async Task<int?> ReadPidAsync(string path)
    {
        try
        {
            return int.TryParse((await File.ReadAllTextAsync(path)).Trim(), CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static string? NginxVersionText { get; private set; }

    /// <summary>
    /// Directives added to nginx's <c>location</c> block from <c>BENCH_NGINX_LOCATION</c> (e.g. <c>grpc_buffer_size 64k;</c>),
    /// to try a tuned nginx; empty by default: Debian's nginx with its default buffers.
    /// </summary>
    public static string NginxLocationExtra { get; } = Environment.GetEnvironmentVariable("BENCH_NGINX_LOCATION") ?? "";

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static async Task<Version?> VersionAsync(string binary)
    {
        using var process = Process.Start(new ProcessStartInfo(binary, "-v") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false });
        if (process is null)
        {
            return null;
        }

        var text = (await process.StandardError.ReadToEndAsync()) + (await process.StandardOutput.ReadToEndAsync());
        await process.WaitForExitAsync();
        var at = text.IndexOf("nginx/", StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var number = new string(text[(at + 6)..].TakeWhile(c => char.IsDigit(c) || c == '.').ToArray());
        NginxVersionText = "nginx " + number;
        return Version.TryParse(number, out var version) ? version : null;
    }

    private static string? FindOnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static Uri AddressOf(WebApplication app)
        => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    private static async ValueTask StopAsync(WebApplication app)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await app.StopAsync(timeout.Token);
        await app.DisposeAsync();
    }
}
