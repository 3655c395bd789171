using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.ZooKeeper;

/// <summary>Checks the ZooKeeper options at start-up and lists every problem with its fix.</summary>
internal sealed class ZooKeeperOptionsValidator : IValidateOptions<ZooKeeperOptions>
{
    private const string Section = ZooKeeperOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, ZooKeeperOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add($"{Section}:ConnectionString is empty: set the ZooKeeper ensemble, e.g. zk1:2181,zk2:2181,zk3:2181 (optionally with a chroot, /kyuubi-ha).");
        }
        else if (!IsConnectionString(options.ConnectionString))
        {
            errors.Add($"{Section}:ConnectionString '{options.ConnectionString}' is not host:port[,host:port...][/chroot], e.g. zk1:2181,zk2:2181.");
        }

        if (options.SessionTimeout < TimeSpan.FromSeconds(2) || options.SessionTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{Section}:SessionTimeout {options.SessionTimeout} is out of range: use 2 s to 10 min (ZooKeeper also clamps it to 2-20 ticks), e.g. 00:01:00.");
        }

        if (options.ConnectionTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:ConnectionTimeout must be positive, e.g. 00:00:15.");
        }

        CheckSegment(errors, "Namespace", options.Namespace, "kyuubi");
        CheckSegment(errors, "EngineVersion", options.EngineVersion, "1.10.0");
        CheckSegment(errors, "EngineType", options.EngineType, "SPARK_SQL");

        if (!Enum.IsDefined(options.SelectionPolicy))
        {
            errors.Add($"{Section}:SelectionPolicy must be Random, Newest or LeastSessions.");
        }

        if (options.EngineScheme is not ("http" or "https"))
        {
            errors.Add($"{Section}:EngineScheme '{options.EngineScheme}' must be http (HTTP/2 cleartext) or https.");
        }

        if (options.LostEngineGracePeriod < TimeSpan.Zero)
        {
            errors.Add($"{Section}:LostEngineGracePeriod is negative; set a duration such as 00:00:30, or 00:00:00 to lose engines at once.");
        }

        if (options.LaunchTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:LaunchTimeout must be positive, e.g. 00:03:00 (at least the launcher's InitializationTimeout).");
        }

        if (options.RegisterGateway && !IsPath(options.GatewayNamespace))
        {
            errors.Add($"{Section}:GatewayNamespace '{options.GatewayNamespace}' must be an absolute ZooKeeper path without a trailing slash, e.g. /spark_connect_multiplexer.");
        }

        if (!string.IsNullOrWhiteSpace(options.AdvertisedAddress) && !IsHostPort(options.AdvertisedAddress))
        {
            errors.Add($"{Section}:AdvertisedAddress '{options.AdvertisedAddress}' must be host:port, e.g. gateway-1.example.org:15002.");
        }

        if (options.NativeLibraryPath is { Length: > 0 } library && !File.Exists(library))
        {
            errors.Add($"{Section}:NativeLibraryPath '{library}' does not exist: point it at libzookeeper_mt (e.g. /usr/lib/x86_64-linux-gnu/libzookeeper_mt.so.2), or remove it to search the usual places.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static bool IsHostPort(string value)
    {
        var colon = value.LastIndexOf(':');
        return colon > 0 && int.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            && port is > 0 and <= 65535;
    }

    private static bool IsConnectionString(string value)
    {
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        var hosts = slash < 0 ? value : value[..slash];
        if (slash >= 0 && (slash == value.Length - 1 || !IsPath(value[slash..])))
        {
            return false;
        }

        return hosts.Split(',').All(h => IsHostPort(h.Trim()));
    }

    private static bool IsPath(string? path)
        => path is { Length: > 1 } && path[0] == '/' && path[^1] != '/' && !path.Contains("//", StringComparison.Ordinal);

    private static void CheckSegment(List<string> errors, string option, string? value, string example)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Contains('/', StringComparison.Ordinal))
        {
            errors.Add($"{Section}:{option} must be a non-empty name without '/', e.g. {example}.");
        }
    }
}
