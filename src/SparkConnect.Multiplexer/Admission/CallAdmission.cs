using System.Buffers;
using System.Net;
using Grpc.Core;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Management;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Admission;

/// <summary>
/// Whether a call may go on, in the order the call pipeline asks: the address's call rate (before authentication),
/// the user's call rate and the method (after it), then the deny lists and the conf changes the request carries (once
/// its first message is in), and the user's running executions (once its session is routed). Every check reads the
/// call's method descriptor, never the client's path text. A refusal is a <see cref="GatewayException"/>; on an
/// admitted call nothing is formatted or allocated for refusals.
/// </summary>
internal sealed class CallAdmission(
    CallRateLimits rateLimits,
    GatewayLimits limits,
    AuthorizationPolicy authorization,
    LiveDenyList liveDenyList)
{
    /// <summary>The address's call rate: it bounds what even unauthenticated clients cost.</summary>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED with a retry delay.</exception>
    public ValueTask AdmitAddressAsync(IPAddress? peer, CancellationToken cancellationToken)
        => rateLimits.AdmitAddressAsync(peer, cancellationToken);

    /// <summary>The authenticated user's call rate.</summary>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED with a retry delay.</exception>
    public ValueTask AdmitUserAsync(GatewayPrincipal principal, CancellationToken cancellationToken)
        => rateLimits.AdmitUserAsync(principal, cancellationToken);

    /// <summary>
    /// A method the gateway does not know may change Spark confs in ways it cannot read: with a conf deny-list set,
    /// it passes only when an operator allowed it by name.
    /// </summary>
    /// <exception cref="GatewayException">PERMISSION_DENIED naming the setting that allows it.</exception>
    public void AdmitMethod(SparkConnectMethod method)
    {
        if (!method.IsKnown && authorization.HasConfigDenyList && !authorization.AllowsUnknownMethod(method.Name))
        {
            throw new GatewayException(StatusCode.PermissionDenied, $"The gateway does not know the method '{method.Name}' and cannot check whether it changes Spark confs, which SparkConnectGateway:Authorization:DeniedConfigKeys restricts; an administrator can allow it with SparkConnectGateway:Authorization:AllowedUnknownMethods.");
        }
    }

    /// <summary>
    /// The configured and live deny lists, then the Spark confs the request's first message sets: directly (Config)
    /// or through SQL in its plans.
    /// </summary>
    /// <exception cref="GatewayException">PERMISSION_DENIED.</exception>
    public void Authorize(GatewayPrincipal principal, IPAddress? peer, SparkConnectMethod method, ReadOnlySequence<byte> firstMessage)
    {
        try
        {
            limits.Admit(principal, peer);
            liveDenyList.Check(principal, peer);
        }
        catch (GatewayException denied) when (denied.StatusCode == StatusCode.PermissionDenied)
        {
            denied.Refusal ??= RefusalReasons.DenyList;
            throw;
        }

        if (method.ChangesConfig)
        {
            authorization.AuthorizeConfigChange(ConfigMessages.ChangedKeys(firstMessage));
        }
        else if (authorization.HasConfigDenyList && method.MayCarryPlans)
        {
            authorization.AuthorizeSqlConfigChanges(method.Name, firstMessage);
        }
    }

    /// <summary>Counts a running execution for a method that starts one, until the returned lease is disposed.</summary>
    /// <returns>The lease, or <see langword="null"/> for a method that runs no query.</returns>
    /// <exception cref="GatewayException">RESOURCE_EXHAUSTED over the execution limit.</exception>
    public IDisposable? StartExecution(GatewayPrincipal principal, SparkConnectMethod method)
        => method.StartsExecution ? limits.StartExecution(principal) : null;
}
