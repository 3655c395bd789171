using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SparkConnect.Multiplexer.Authentication.Tests.Jwt;

/// <summary>An identity provider's JWKS endpoint on real Kestrel (loopback, free port), serving the keys it is given.</summary>
internal sealed class JwksServer : IAsyncDisposable
{
    public const string Issuer = "https://idp.test/realms/spark";
    public const string Audience = "spark-connect";

    private readonly WebApplication _app;
    private volatile TestKey[] _published = [];
    private int _padding;
    private volatile bool _chunked;
    private int _requests;

    private JwksServer(WebApplication app, Uri jwksUrl)
    {
        _app = app;
        JwksUrl = jwksUrl;
    }

    public Uri JwksUrl { get; }

    /// <summary>How many times the JWKS was fetched.</summary>
    public int Requests => Volatile.Read(ref _requests);

    public static async Task<JwksServer> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        JwksServer? server = null;
        app.MapGet("/jwks", async (HttpContext context) =>
        {
            Interlocked.Increment(ref server!._requests);
            var keys = server._published.Select(k => k.PublicJwk()).ToArray();
            var padding = Volatile.Read(ref server._padding);
            var json = padding == 0 ? JsonSerializer.Serialize(new { keys }) : JsonSerializer.Serialize(new { keys, padding = new string('x', padding) });
            var body = System.Text.Encoding.UTF8.GetBytes(json);
            context.Response.ContentType = "application/json";
            if (!server._chunked)
            {
                context.Response.ContentLength = body.Length;
                await context.Response.Body.WriteAsync(body, context.RequestAborted);
                return;
            }

            // No Content-Length: the size is known only by reading.
            for (var offset = 0; offset < body.Length; offset += 16384)
            {
                await context.Response.Body.WriteAsync(body.AsMemory(offset, Math.Min(16384, body.Length - offset)), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new JwksServer(app, new Uri(new Uri(address), "/jwks"));
        return server;
    }

    /// <summary>Publishes exactly these keys from now on.</summary>
    public void Publish(params TestKey[] keys) => _published = keys;

    /// <summary>
    /// From now on, pads the document with a <c>padding</c> member of <paramref name="characters"/> characters (valid
    /// JSON, the keys still usable), sent with a Content-Length, or chunked without one.
    /// </summary>
    public void Pad(int characters, bool chunked = false)
    {
        Volatile.Write(ref _padding, characters);
        _chunked = chunked;
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>A signing key made in the test: RSA (RS256) or EC P-256 (ES256).</summary>
internal sealed class TestKey : IDisposable
{
    private readonly AsymmetricAlgorithm _algorithm;

    private TestKey(string keyId, AsymmetricAlgorithm algorithm, SecurityKey key, string signingAlgorithm)
    {
        KeyId = keyId;
        _algorithm = algorithm;
        SigningKey = key;
        SigningAlgorithm = signingAlgorithm;
    }

    public string KeyId { get; }

    public SecurityKey SigningKey { get; }

    public string SigningAlgorithm { get; }

    public static TestKey Rsa(string keyId)
    {
        var rsa = RSA.Create(2048);
        return new TestKey(keyId, rsa, new RsaSecurityKey(rsa) { KeyId = keyId }, SecurityAlgorithms.RsaSha256);
    }

    public static TestKey Ec(string keyId)
    {
        var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new TestKey(keyId, ec, new ECDsaSecurityKey(ec) { KeyId = keyId }, SecurityAlgorithms.EcdsaSha256);
    }

    /// <summary>The public key as PEM (SubjectPublicKeyInfo).</summary>
    public string PublicPem() => _algorithm.ExportSubjectPublicKeyInfoPem();

    public Dictionary<string, string> PublicJwk()
    {
        if (_algorithm is RSA rsa)
        {
            var p = rsa.ExportParameters(false);
            return new() { ["kty"] = "RSA", ["kid"] = KeyId, ["use"] = "sig", ["alg"] = "RS256", ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent) };
        }

        var q = ((ECDsa)_algorithm).ExportParameters(false).Q;
        return new() { ["kty"] = "EC", ["kid"] = KeyId, ["use"] = "sig", ["alg"] = "ES256", ["crv"] = "P-256", ["x"] = Base64UrlEncoder.Encode(q.X), ["y"] = Base64UrlEncoder.Encode(q.Y) };
    }

    /// <summary>Signs a token; defaults: the test issuer and audience, valid for 10 minutes from now.</summary>
    public string CreateToken(
        string? subject = "carol",
        IEnumerable<string>? groups = null,
        string issuer = JwksServer.Issuer,
        string audience = JwksServer.Audience,
        DateTime? expires = null,
        IDictionary<string, object>? extraClaims = null)
    {
        var now = DateTime.UtcNow;
        var exp = expires ?? now.AddMinutes(10);
        var claims = new Dictionary<string, object>(StringComparer.Ordinal);
        if (subject is not null)
        {
            claims["sub"] = subject;
        }

        if (groups is not null)
        {
            claims["groups"] = groups.ToArray();
        }

        foreach (var (name, value) in extraClaims ?? new Dictionary<string, object>())
        {
            claims[name] = value;
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = exp.AddMinutes(-20),
            NotBefore = exp.AddMinutes(-20),
            Expires = exp,
            SigningCredentials = new SigningCredentials(SigningKey, SigningAlgorithm),
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    public void Dispose() => _algorithm.Dispose();
}
