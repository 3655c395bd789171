using System.Buffers;
using Grpc.Core;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Configuration;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Admission;

/// <summary>
/// The configured authorization (<c>SparkConnectGateway:Authorization</c>): who may open sessions on which engine
/// keys and engines, which Spark confs clients may change, and which they may never see.
/// </summary>
internal sealed class AuthorizationPolicy(IOptionsMonitor<SparkConnectGatewayOptions> options)
{
    /// <summary>Conf keys never shown to clients, whatever the configuration says.</summary>
    private static readonly string[] AlwaysHidden = ["spark.connect.authenticate.token", "*password*", "*secret*", "*credential*"];

    /// <summary>Checks a new session's engine key and, once located, its engine.</summary>
    /// <exception cref="GatewayException">PERMISSION_DENIED when no rule allows it.</exception>
    public void AuthorizeSession(GatewayPrincipal principal, EngineKey key, EngineEndpoint? engine)
    {
        var rules = options.CurrentValue.Authorization.Rules;
        if (rules.Count == 0)
        {
            return;
        }

        foreach (var rule in rules)
        {
            if (AppliesTo(rule, principal)
                && (rule.ShareLevels.Count == 0 || rule.ShareLevels.Contains(key.ShareLevel))
                && KeyPattern.AnyMatches(rule.Subdomains, key.Subdomain, emptyMatchesAll: true)
                && (engine is null || KeyPattern.AnyMatches(rule.Engines, engine.Id, emptyMatchesAll: true)))
            {
                return;
            }
        }

        var what = engine is null
            ? $"a {key.ShareLevel.ToString().ToUpperInvariant()} session in subdomain '{key.Subdomain}'"
            : $"engine '{engine.Id}'";
        throw new GatewayException(StatusCode.PermissionDenied, $"User '{principal.UserName}' is not allowed to use {what}; ask an administrator for access (SparkConnectGateway:Authorization:Rules).");
    }

    /// <summary>Checks the keys a Config request sets or unsets.</summary>
    /// <exception cref="GatewayException">PERMISSION_DENIED naming the first denied key.</exception>
    public void AuthorizeConfigChange(IReadOnlyList<string> keys)
    {
        var denied = options.CurrentValue.Authorization.DeniedConfigKeys;
        if (denied.Count == 0)
        {
            return;
        }

        foreach (var key in keys)
        {
            if (KeyPattern.AnyMatches(denied, key, emptyMatchesAll: false))
            {
                throw new GatewayException(StatusCode.PermissionDenied, $"Setting the Spark conf '{key}' is not allowed through this gateway.");
            }
        }
    }

    public bool HasConfigDenyList => options.CurrentValue.Authorization.DeniedConfigKeys.Count > 0;

    /// <summary>Whether an operator allowed a method the gateway does not know while a conf deny-list is set.</summary>
    public bool AllowsUnknownMethod(string method) => options.CurrentValue.Authorization.AllowedUnknownMethods.Contains(method, StringComparer.Ordinal);

    /// <summary>Checks the confs that SQL in a request's plans sets (<c>SET k=v</c>, <c>RESET k</c>) against the deny-list.</summary>
    /// <exception cref="GatewayException">PERMISSION_DENIED naming the key, or for a compressed plan, which cannot be read.</exception>
    public void AuthorizeSqlConfigChanges(string method, ReadOnlySequence<byte> request)
    {
        if (PlanSql.HasCompressedPlan(method, request))
        {
            throw new GatewayException(StatusCode.PermissionDenied, "This gateway checks Spark conf changes in SQL and cannot read compressed plans; turn plan compression off in the client.");
        }

        AuthorizeConfigChange(PlanSql.ChangedConfKeys(request));
    }

    /// <summary>Whether a conf key must be removed from Config responses.</summary>
    public bool IsHidden(string key)
        => KeyPattern.AnyMatches(AlwaysHidden, key, emptyMatchesAll: false)
            || KeyPattern.AnyMatches(options.CurrentValue.Authorization.HiddenConfigKeys, key, emptyMatchesAll: false);

    private static bool AppliesTo(AuthorizationRule rule, GatewayPrincipal principal)
        => rule.Users.Contains("*") || rule.Users.Contains(principal.UserName, StringComparer.Ordinal)
            || principal.Groups.Any(g => rule.Groups.Contains(g, StringComparer.Ordinal));
}
