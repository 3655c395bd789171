namespace SparkConnect.Multiplexer.Benchmarks;

/// <summary>
/// One more gateway process in a deployed run (<c>--variant NAME:ITEM[,ITEM...]</c>): the same sample-host build with
/// extra environment variables (<c>DOTNET_gcServer=0</c>), extra command-line configuration
/// (<c>--Kestrel:Limits:Http2:InitialStreamWindowSize=1048576</c>) or another build of the sample host
/// (<c>exe=/tmp/r2r/SparkConnect.Multiplexer.SampleHost</c>, e.g. a ReadyToRun publish). It runs every scenario in the
/// same interleaved rounds as the baseline gateway, so each lever's before/after comes from one run on one machine.
/// </summary>
internal sealed record GatewayVariant(string Name, IReadOnlyDictionary<string, string> Environment, IReadOnlyList<string> Arguments, string? Executable)
{
    /// <summary>The path name in the report: <c>gw:NAME</c>.</summary>
    public string PathName => "gw:" + Name;

    /// <summary>What the variant changes, for the report.</summary>
    public string Description => Environment.Count + Arguments.Count == 0 && Executable is null
        ? "(nothing changed: a second baseline, the noise floor)"
        : string.Join(' ', Environment.Select(e => $"{e.Key}={e.Value}").Concat(Arguments).Concat(Executable is null ? [] : ["exe=" + Executable]));

    /// <summary>
    /// Parses <c>NAME:ITEM[,ITEM...]</c>; null with a message when it is malformed. <c>NAME:</c> with no items is a second
    /// baseline process: its ratios show how far two identical gateways differ in this run (the noise floor).
    /// </summary>
    public static GatewayVariant? Parse(string text, out string? error)
    {
        error = null;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            error = $"--variant '{text}': expected NAME:ENV=VALUE[,--Config:Key=Value][,exe=PATH]";
            return null;
        }

        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        var arguments = new List<string>();
        string? executable = null;
        foreach (var item in text[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (item.StartsWith("--", StringComparison.Ordinal) && equals > 2)
            {
                arguments.Add(item);
            }
            else if (item.StartsWith("exe=", StringComparison.Ordinal))
            {
                executable = Path.GetFullPath(item[4..]);
            }
            else if (equals > 0)
            {
                environment[item[..equals]] = item[(equals + 1)..];
            }
            else
            {
                error = $"--variant '{text}': '{item}' is neither ENV=VALUE, --Config:Key=Value nor exe=PATH";
                return null;
            }
        }

        return new GatewayVariant(text[..colon], environment, arguments, executable);
    }
}
