using Microsoft.AspNetCore.Server.Kestrel.Core;

// The thin host: everything the gateway does comes from the library; configuration is in appsettings.json.
var builder = WebApplication.CreateBuilder(args);

var sample = builder.Configuration.GetSection("SampleHost");
var port = sample.GetValue("Port", 15002);
var certificatePath = sample["CertificatePath"];
builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenAnyIP(port, listen =>
{
    if (string.IsNullOrEmpty(certificatePath))
    {
        // Spark Connect clients speak HTTP/2 without TLS by prior knowledge (h2c).
        listen.Protocols = HttpProtocols.Http2;
    }
    else
    {
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.UseHttps(certificatePath, sample["CertificatePassword"]);
    }
}));

var gateway = builder.Services.AddSparkConnectGateway();

// Where engines come from: Local (default) starts an embedded DuckDB engine per engine key, so a trial needs no
// Spark; Process launches engines from SparkConnectGateway:ProcessEngines; Static uses SparkConnectGateway:Engines.
switch (sample["EngineMode"] ?? "Local")
{
    case "Local":
        gateway.AddLocalEngines();
        break;
    case "Process":
        gateway.AddProcessEngines();
        break;
    case "Static":
        break;
    default:
        throw new InvalidOperationException($"SampleHost:EngineMode is '{sample["EngineMode"]}'; use Local, Process or Static.");
}

// Sessions in Redis when it is configured, so several sample hosts behind a load balancer share them.
if (!string.IsNullOrEmpty(builder.Configuration["SparkConnectGateway:Redis:Configuration"]))
{
    gateway.AddRedisSessionStore();
}

var app = builder.Build();
app.MapSparkConnectGateway();
app.Run();
