using System.Net;
using Grpc.Core;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Management;

/// <summary>
/// Users and client addresses an administrator denied through the admin API, in force at once and until replaced;
/// checked beside the configured deny lists (<see cref="GatewayLimitOptions.DeniedUsers"/>,
/// <see cref="GatewayLimitOptions.DeniedClientAddresses"/>), which they add to. Per gateway instance and not
/// persisted: a lasting denial belongs in configuration.
/// </summary>
internal sealed class LiveDenyList
{
    private volatile Snapshot _current = new([], [], []);

    public IReadOnlyList<string> Users => _current.Users;

    public IReadOnlyList<string> Addresses => _current.AddressTexts;

    /// <exception cref="GatewayException">PERMISSION_DENIED for a denied user or address.</exception>
    public void Check(GatewayPrincipal principal, IPAddress? peer)
    {
        var current = _current;
        if (current.Users.Length > 0 && current.Users.Contains(principal.UserName, StringComparer.Ordinal))
        {
            throw new GatewayException(StatusCode.PermissionDenied, $"User '{principal.UserName}' is not allowed to use this gateway.") { Refusal = RefusalReasons.DenyList };
        }

        if (peer is not null && current.Networks.Length > 0)
        {
            var address = peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer;
            foreach (var network in current.Networks)
            {
                if (network.Contains(address))
                {
                    throw new GatewayException(StatusCode.PermissionDenied, $"Client address {address} is not allowed to use this gateway.") { Refusal = RefusalReasons.DenyList };
                }
            }
        }
    }

    /// <summary>Replaces the denied users; returns the problems (and changes nothing) when a name is not plain.</summary>
    public IReadOnlyList<string> SetUsers(IReadOnlyList<string> users)
    {
        var problems = users.Where(u => !GatewayPrincipal.IsPlainUserName(u))
            .Select(u => $"{ClientText.Quote(u)} is not a plain user name (empty, control characters or surrounding spaces).")
            .ToList();
        if (problems.Count == 0)
        {
            var current = _current;
            _current = current with { Users = [.. users.Distinct(StringComparer.Ordinal)] };
        }

        return problems;
    }

    /// <summary>Replaces the denied addresses (IP addresses or CIDR ranges); returns the problems (and changes nothing).</summary>
    public IReadOnlyList<string> SetAddresses(IReadOnlyList<string> addresses)
    {
        var problems = new List<string>();
        var networks = new List<IPNetwork>();
        foreach (var text in addresses)
        {
            if (IPNetwork.TryParse(text, out var network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(text, out var single))
            {
                networks.Add(new IPNetwork(single, single.GetAddressBytes().Length * 8));
            }
            else
            {
                problems.Add($"{ClientText.Quote(text)} is neither an IP address nor a CIDR range such as 10.1.0.0/16.");
            }
        }

        if (problems.Count == 0)
        {
            var current = _current;
            _current = current with { AddressTexts = [.. addresses.Distinct(StringComparer.Ordinal)], Networks = [.. networks] };
        }

        return problems;
    }

    private sealed record Snapshot(string[] Users, string[] AddressTexts, IPNetwork[] Networks);
}
