using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Routing;

/// <summary>
/// The default <see cref="IEngineLocator"/>: engines listed in configuration. A user's own entry wins, then the
/// entry of the first of the user's groups that has one, then the default engine.
/// </summary>
internal sealed class StaticEngineLocator(IOptionsMonitor<SparkConnectGatewayOptions> options) : IEngineLocator
{
    public ValueTask<EngineEndpoint> LocateAsync(EngineRequest request, CancellationToken cancellationToken)
    {
        var engines = options.CurrentValue.Engines;
        var principal = request.Principal;
        if (engines.Users.TryGetValue(principal.UserName, out var own))
        {
            return ValueTask.FromResult(Endpoint("static:user:" + principal.UserName, own));
        }

        foreach (var group in principal.Groups)
        {
            if (engines.Groups.TryGetValue(group, out var groupEngine))
            {
                return ValueTask.FromResult(Endpoint("static:group:" + group, groupEngine));
            }
        }

        if (engines.Default is { } fallback)
        {
            return ValueTask.FromResult(Endpoint("static:default", fallback));
        }

        throw new EngineLocationException(
            $"No engine is configured for user '{principal.UserName}'; an administrator must add SparkConnectGateway:Engines:Default or an entry under Engines:Users or Engines:Groups.",
            StatusCode.FailedPrecondition);
    }

    private static EngineEndpoint Endpoint(string id, StaticEngineOptions engine)
        => new(id, new Uri(engine.Address, UriKind.Absolute))
        {
            AccessToken = string.IsNullOrEmpty(engine.Token) ? null : engine.Token,
            TrustedCertificateAuthorities = LoadAuthorities(engine.CertificateAuthorityPath),
        };

    private static X509Certificate2Collection? LoadAuthorities(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(path);
        return authorities;
    }
}
