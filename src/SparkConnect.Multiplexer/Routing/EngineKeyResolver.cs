using System.Text.RegularExpressions;
using Grpc.Core;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Routing;

/// <summary>
/// Chooses a new session's engine key: the share level and subdomain the client asked for through routing hints
/// (within what configuration allows), else the defaults, and a pool member when pools are on.
/// </summary>
internal sealed partial class EngineKeyResolver(IOptionsMonitor<SparkConnectGatewayOptions> options)
{
    /// <summary>Hint names a client sets as <c>sc://</c> parameters; Kyuubi's names are accepted too.</summary>
    public static readonly string[] ShareLevelHints = ["share_level", "kyuubi.engine.share.level"];

    /// <summary>Subdomain hint names.</summary>
    public static readonly string[] SubdomainHints = ["subdomain", "kyuubi.engine.share.level.subdomain"];

    private static readonly ShareLevel[] DefaultAllowed = [ShareLevel.Connection, ShareLevel.User];

    private int _roundRobin = -1;

    /// <exception cref="GatewayException">INVALID_ARGUMENT for a malformed hint, PERMISSION_DENIED for one configuration does not allow.</exception>
    public EngineKey Resolve(GatewayPrincipal principal, string sessionId, IReadOnlyDictionary<string, string> hints)
    {
        var current = options.CurrentValue;
        var level = current.DefaultShareLevel;
        if (First(hints, ShareLevelHints) is { } requested)
        {
            if (!Enum.TryParse(requested, ignoreCase: true, out level) || !Enum.IsDefined(level) || int.TryParse(requested, out _))
            {
                throw GatewayException.InvalidArgument($"share_level '{requested}' is not a share level; use CONNECTION, USER, GROUP or SERVER.");
            }

            var allowed = Allowed(current);
            if (!allowed.Contains(level))
            {
                throw new GatewayException(StatusCode.PermissionDenied, $"share_level {level.ToString().ToUpperInvariant()} is not allowed here; allowed: {string.Join(", ", allowed.Select(l => l.ToString().ToUpperInvariant()))}.");
            }
        }

        var subdomain = EngineKey.DefaultSubdomain;
        if (First(hints, SubdomainHints) is { } requestedSubdomain)
        {
            if (!current.Routing.AllowClientSubdomain)
            {
                throw new GatewayException(StatusCode.PermissionDenied, "Choosing a subdomain is not allowed here; remove the subdomain parameter.");
            }

            subdomain = SubdomainPattern().IsMatch(requestedSubdomain)
                ? requestedSubdomain
                : throw GatewayException.InvalidArgument($"subdomain '{requestedSubdomain}' is not valid; use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
        else if (current.Routing.PoolSize > 0)
        {
            var member = current.Routing.PoolSelection == EnginePoolSelection.RoundRobin
                ? (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)current.Routing.PoolSize)
                : Random.Shared.Next(current.Routing.PoolSize);
            subdomain = "pool-" + member;
        }

        return EngineKeys.For(level, principal, sessionId, subdomain);
    }

    private static HashSet<ShareLevel> Allowed(SparkConnectGatewayOptions current)
    {
        var allowed = new HashSet<ShareLevel>(current.Routing.AllowedShareLevels.Count > 0 ? current.Routing.AllowedShareLevels : DefaultAllowed)
        {
            current.DefaultShareLevel,
        };
        if (!current.AllowSharedEngines)
        {
            allowed.Remove(ShareLevel.Group);
            allowed.Remove(ShareLevel.Server);
        }

        return allowed;
    }

    private static string? First(IReadOnlyDictionary<string, string> hints, string[] names)
    {
        foreach (var name in names)
        {
            if (hints.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value))
            {
                return value.Trim();
            }
        }

        return null;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex SubdomainPattern();
}
