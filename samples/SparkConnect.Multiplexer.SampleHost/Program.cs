using OpenTelemetry;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

// The thin host: everything the gateway does comes from the library; configuration is in appsettings.json.
var builder = WebApplication.CreateBuilder(args);

// A bad SampleHost value is reported at start-up together with every other configuration problem; until then the
// defaults stand in.
SampleHostOptions sample;
try
{
    sample = builder.Configuration.GetSection(SampleHostOptions.SectionName).Get<SampleHostOptions>() ?? new();
}
catch (InvalidOperationException)
{
    sample = new();
}

var port = sample.Port;
var certificatePath = sample.CertificatePath;

// A missing file, a wrong password or a file that is no PFX is reported with the other problems before start-up.
var certificateProblem = string.IsNullOrEmpty(certificatePath) ? null : CertificateProblem(certificatePath, sample.CertificatePassword);

// Trial mode trusts whatever user a client names, so it listens on loopback only unless the operator opts in to
// more, by name; with authentication on, every address by default.
var trialMode = string.Equals(builder.Configuration["SparkConnectGateway:Authentication:Mode"], "None", StringComparison.OrdinalIgnoreCase);
var listenAddress = sample.ListenAddress is { Length: > 0 } configured ? configured : trialMode ? "127.0.0.1" : "0.0.0.0";
if (!System.Net.IPAddress.TryParse(listenAddress, out var address))
{
    Console.Error.WriteLine($"SampleHost:ListenAddress is '{listenAddress}'; use an IP address such as 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).");
    return 1;
}

var unauthenticatedRemoteAccess = trialMode && !System.Net.IPAddress.IsLoopback(address);
if (unauthenticatedRemoteAccess && !sample.AllowUnauthenticatedRemoteAccess)
{
    Console.Error.WriteLine($"SampleHost:ListenAddress is {listenAddress} while SparkConnectGateway:Authentication:Mode is None (trial mode: anyone can claim to be anyone). " +
        "Configure tokens (SparkConnectGateway:Authentication:Tokens) and set Mode to Tokens, listen on 127.0.0.1, or, on a network you trust, set SampleHost:AllowUnauthenticatedRemoteAccess=true.");
    return 1;
}

var managementPort = sample.ManagementPort;
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(address, port, listen =>
    {
        if (string.IsNullOrEmpty(certificatePath) || certificateProblem is not null)
        {
            // Spark Connect clients speak HTTP/2 without TLS by prior knowledge (h2c).
            listen.Protocols = HttpProtocols.Http2;
        }
        else
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(certificatePath, sample.CertificatePassword);
        }
    });

    // Health, readiness, metrics, the admin API and the dashboard: plain HTTP/1.1 on the same address (loopback in
    // trial mode), for probes, Prometheus and a browser. Keep this port off the public network.
    if (managementPort > 0)
    {
        kestrel.Listen(address, managementPort, listen => listen.Protocols = HttpProtocols.Http1);
    }
});

var gateway = builder.Services.AddSparkConnectGateway().AddManagement();

// Traces and metrics to an OpenTelemetry collector when the standard variable names one (OTLP/gRPC by default;
// OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME and the other OTEL_* variables apply as usual).
if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
{
    builder.Services.AddOpenTelemetry()
        .WithTracing(tracing => tracing.AddSource("SparkConnect.Multiplexer", "SparkConnect.Multiplexer.*"))
        .WithMetrics(metrics => metrics.AddMeter("SparkConnect.Multiplexer", "SparkConnect.Multiplexer.*"))
        .UseOtlpExporter();
}

// The SampleHost section is checked like the gateway's own: a misspelt key or a bad value stops start-up.
gateway.AddConfigurationSection<SampleHostOptions>(SampleHostOptions.SectionName);
builder.Services.AddOptions<SampleHostOptions>().BindConfiguration(SampleHostOptions.SectionName).ValidateOnStart();

// Where engines come from: Local (default) starts an embedded DuckDB engine per engine key, so a trial needs no
// Spark; Process launches engines from SparkConnectGateway:ProcessEngines; Static uses SparkConnectGateway:Engines.
switch (sample.EngineMode)
{
    case SampleEngineMode.Local:
        gateway.AddLocalEngines();
        break;
    case SampleEngineMode.Process:
        gateway.AddProcessEngines();
        break;
    case SampleEngineMode.Static:
        break;
}

// ZooKeeper when it is configured: with EngineMode Process, sample hosts coordinate launches and share the engines
// (AddZooKeeperEngines comes after AddProcessEngines); otherwise each host only registers itself there.
if (!string.IsNullOrEmpty(builder.Configuration["SparkConnectGateway:ZooKeeper:ConnectionString"]))
{
    if (sample.EngineMode == SampleEngineMode.Process)
    {
        gateway.AddZooKeeperEngines();
    }
    else
    {
        gateway.AddZooKeeperDiscovery();
    }
}

// Sessions in Redis when it is configured, so several sample hosts behind a load balancer share them.
if (!string.IsNullOrEmpty(builder.Configuration["SparkConnectGateway:Redis:Configuration"]))
{
    gateway.AddRedisSessionStore();
}

var app = builder.Build();

// Every configuration problem of the gateway, its packages and this host, one line each and without a stack trace,
// before anything reads the options.
var problems = new List<string>();
if (certificateProblem is not null)
{
    problems.Add(certificateProblem);
}

try
{
    app.Services.GetService<IStartupValidator>()?.Validate();
}
catch (Exception e) when (ConfigurationProblems(e) is { Count: > 0 } found)
{
    problems.AddRange(found);
}

if (problems.Count > 0)
{
    Console.Error.WriteLine($"The configuration has {problems.Count} problem(s); fix them and start again:");
    foreach (var problem in problems)
    {
        Console.Error.WriteLine($"  {problem}");
    }

    return 1;
}

if (unauthenticatedRemoteAccess)
{
    SampleHostLog.UnauthenticatedRemoteAccess(app.Logger, listenAddress, port);
}

if (managementPort > 0)
{
    app.MapSparkConnectGateway().RequireHost($"*:{port}");
    app.MapSparkConnectGatewayManagement().RequireHost($"*:{managementPort}");
    app.Lifetime.ApplicationStarted.Register(() => SampleHostLog.ManagementListening(app.Logger, listenAddress, managementPort));
}
else
{
    app.MapSparkConnectGateway();
}

try
{
    app.Run();
}
catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    // Kestrel has already logged the failure with its stack; say in one line what to change.
    Console.Error.WriteLine($"Cannot listen: {e.Message} Another process uses the port: stop it, or choose another with --SampleHost:Port (and --SampleHost:ManagementPort).");
    return 1;
}

return 0;

static string? CertificateProblem(string path, string? password)
{
    if (!File.Exists(path))
    {
        return $"SampleHost:CertificatePath is '{path}', which does not exist; set the path of a PFX (PKCS#12) file with the certificate and its private key, or leave it empty to serve HTTP/2 without TLS.";
    }

    try
    {
        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(path, password);
        return certificate.HasPrivateKey
            ? null
            : $"SampleHost:CertificatePath '{path}' holds no private key; export the certificate with its key as a PFX (openssl pkcs12 -export -in cert.pem -inkey key.pem -out cert.pfx).";
    }
    catch (System.Security.Cryptography.CryptographicException e)
    {
        return $"SampleHost:CertificatePath '{path}' cannot be opened as a PFX (PKCS#12) file with SampleHost:CertificatePassword ({e.Message.TrimEnd('.')}); check the password, or convert a PEM certificate and key with openssl pkcs12 -export -in cert.pem -inkey key.pem -out cert.pfx.";
    }
}

static List<string> ConfigurationProblems(Exception e) => e switch
{
    OptionsValidationException invalid => [.. invalid.Failures],
    AggregateException all when all.InnerExceptions.All(i => i is OptionsValidationException) =>
        [.. all.InnerExceptions.Cast<OptionsValidationException>().SelectMany(i => i.Failures)],
    _ => [],
};

/// <summary>The sample host's own log lines.</summary>
internal static partial class SampleHostLog
{
    [LoggerMessage(1, LogLevel.Critical, "UNAUTHENTICATED ACCESS FROM THE NETWORK: trial mode (no authentication) is listening on {Address}:{Port} (SampleHost:AllowUnauthenticatedRemoteAccess=true). Anyone who reaches this port can act as any user.")]
    public static partial void UnauthenticatedRemoteAccess(ILogger logger, string address, int port);

    [LoggerMessage(2, LogLevel.Information, "Management endpoint on http://{Address}:{Port}/ (dashboard; /healthz, /readyz, /metrics, /api/v1/admin)")]
    public static partial void ManagementListening(ILogger logger, string address, int port);
}

/// <summary>The sample host's own settings (the <c>SampleHost</c> configuration section).</summary>
internal sealed class SampleHostOptions
{
    public const string SectionName = "SampleHost";

    /// <summary>The port to listen on. Default 15002, Spark Connect's.</summary>
    public int Port { get; set; } = 15002;

    /// <summary>Where engines come from.</summary>
    public SampleEngineMode EngineMode { get; set; } = SampleEngineMode.Local;

    /// <summary>A PFX file to serve TLS with; empty: HTTP/2 without TLS.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The password of <see cref="CertificatePath"/>.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>The IP address to listen on; empty: 127.0.0.1 in trial mode, otherwise 0.0.0.0.</summary>
    public string? ListenAddress { get; set; }

    /// <summary>
    /// The HTTP/1.1 port of the management endpoint (health, readiness, metrics, admin API, dashboard), on the same
    /// address as <see cref="Port"/>. Default 15080; 0 serves none.
    /// </summary>
    public int ManagementPort { get; set; } = 15080;

    /// <summary>Lets trial mode listen beyond loopback.</summary>
    public bool AllowUnauthenticatedRemoteAccess { get; set; }
}

/// <summary>Where the sample host's engines come from.</summary>
internal enum SampleEngineMode
{
    /// <summary>An embedded DuckDB engine per engine key.</summary>
    Local,

    /// <summary>Engines launched from <c>SparkConnectGateway:ProcessEngines</c>.</summary>
    Process,

    /// <summary>The engines of <c>SparkConnectGateway:Engines</c>.</summary>
    Static,
}
