namespace SparkConnect.Multiplexer.Admission;

/// <summary>The per-user limits that apply to one principal: its user entry, else its first group's, else the general ones.</summary>
internal readonly record struct UserLimits(int MaxSessions, int MaxConcurrentExecutions, int CallsPerSecond, int CallBurst)
{
    public static UserLimits For(GatewayLimitOptions limits, GatewayPrincipal principal)
    {
        var entry = Entry(limits, principal);
        return new UserLimits(
            entry?.MaxSessions ?? limits.MaxSessionsPerUser,
            entry?.MaxConcurrentExecutions ?? limits.MaxConcurrentExecutionsPerUser,
            entry?.CallsPerSecond ?? limits.CallsPerSecondPerUser,
            entry?.CallBurst ?? limits.CallBurstPerUser);
    }

    private static UserLimitOptions? Entry(GatewayLimitOptions limits, GatewayPrincipal principal)
    {
        if (limits.Users.Count > 0 && limits.Users.TryGetValue(principal.UserName, out var own))
        {
            return own;
        }

        if (limits.Groups.Count > 0)
        {
            foreach (var group in principal.Groups)
            {
                if (limits.Groups.TryGetValue(group, out var entry))
                {
                    return entry;
                }
            }
        }

        return null;
    }
}
