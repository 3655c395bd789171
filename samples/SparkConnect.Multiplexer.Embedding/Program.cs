using Microsoft.AspNetCore.Server.Kestrel.Core;
using SparkConnect.Multiplexer;

var builder = WebApplication.CreateBuilder(args);

// Spark Connect clients speak HTTP/2 without TLS unless they use use_ssl=true; choose the port with --urls.
builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(endpoint => endpoint.Protocols = HttpProtocols.Http2));

builder.Services.AddSparkConnectGateway(options => options.MaxMessageSize = 256 * 1024 * 1024)
    .AddAuthenticator<ApiKeyAuthenticator>()      // asked after the static tokens; NoResult() passes on
    .AddEngineLocator<OneEngineLocator>();         // replaces the static list from configuration

var app = builder.Build();
app.MapSparkConnectGateway();
app.Run();

/// <summary>Signs in callers by an API key in the <c>x-api-key</c> header; keys come from configuration <c>ApiKeys:&lt;key&gt;=&lt;user&gt;</c>.</summary>
internal sealed class ApiKeyAuthenticator(IConfiguration configuration) : IAuthenticator
{
    // Shown to a caller who sent no credential the gateway recognises.
    public string? CredentialHint => "send your API key in the 'x-api-key' header";

    public ValueTask<AuthenticationResult> AuthenticateAsync(AuthenticationContext context, CancellationToken cancellationToken)
    {
        var key = context.Headers["x-api-key"].ToString();
        if (key.Length == 0)
        {
            return ValueTask.FromResult(AuthenticationResult.NoResult());
        }

        // A real host would compare digests in constant time; configuration keys keep the example short.
        return ValueTask.FromResult(configuration.GetSection("ApiKeys")[key] is { Length: > 0 } user
            ? AuthenticationResult.Success(new GatewayPrincipal(user))
            : AuthenticationResult.Refuse("unknown API key"));
    }
}

/// <summary>Sends every engine key to the one Spark Connect server at configuration <c>Engine:Address</c>.</summary>
internal sealed class OneEngineLocator(IConfiguration configuration) : IEngineLocator
{
    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
        => ValueTask.FromResult(new EngineEndpoint("spark", new Uri(configuration["Engine:Address"] ?? "http://127.0.0.1:15003")));
}
