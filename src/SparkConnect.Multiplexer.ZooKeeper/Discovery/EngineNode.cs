using System.Globalization;
using System.Text;

namespace SparkConnect.Multiplexer.ZooKeeper.Discovery;

/// <summary>
/// One engine registered in an engine space, parsed from its node name (and data) the way Apache Kyuubi writes them:
/// <c>serverUri=host:port;version=V;...;sequence=NNNNNNNNNN</c>, plus <c>sparkConnectPort=P</c> or
/// <c>sparkConnectUri=host:port</c>.
/// </summary>
internal sealed class EngineNode
{
    public const string ServerUri = "serverUri";
    public const string SparkConnectPort = "sparkConnectPort";
    public const string SparkConnectUri = "sparkConnectUri";
    public const string EngineIdAttribute = "engineId";
    public const string RefIdAttribute = "refId";
    public const string Sequence = "sequence";

    private EngineNode(string path, string name, IReadOnlyDictionary<string, string> attributes, string? sparkConnectAddress, long sequence, string id)
    {
        Path = path;
        Name = name;
        Attributes = attributes;
        SparkConnectAddress = sparkConnectAddress;
        SequenceNumber = sequence;
        Id = id;
    }

    /// <summary>The node's full path.</summary>
    public string Path { get; }

    public string Name { get; }

    public IReadOnlyDictionary<string, string> Attributes { get; }

    /// <summary>The engine's Spark Connect <c>host:port</c>, or null when the node carries none.</summary>
    public string? SparkConnectAddress { get; }

    /// <summary>The ZooKeeper sequence number (higher = registered later).</summary>
    public long SequenceNumber { get; }

    /// <summary>The engine id sessions are bound to: the <c>engineId</c> attribute, else <c>zookeeper:</c> + the node path.</summary>
    public string Id { get; }

    /// <summary>
    /// Whether the name alone has the engine's address and its <c>engineId</c>; otherwise the node's data is read too,
    /// for the attributes the name lacks.
    /// </summary>
    public static bool NameIsComplete(string name)
    {
        var attributes = ParseAttributes(name);
        return (attributes.ContainsKey(SparkConnectPort) || attributes.ContainsKey(SparkConnectUri)) && attributes.ContainsKey(EngineIdAttribute);
    }

    /// <summary>Parses a child of an engine space; <paramref name="data"/> (when read) adds attributes the name lacks.</summary>
    public static EngineNode Parse(string spacePath, string name, byte[]? data)
    {
        var attributes = ParseAttributes(name);
        if (data is { Length: > 0 })
        {
            var text = Encoding.UTF8.GetString(data);
            if (text.Contains('=', StringComparison.Ordinal))
            {
                foreach (var (key, value) in ParseAttributes(text))
                {
                    attributes.TryAdd(key, value);
                }
            }
        }

        string? address = null;
        if (attributes.TryGetValue(SparkConnectUri, out var uri) && ZooKeeperOptionsValidator.IsHostPort(StripScheme(uri)))
        {
            address = StripScheme(uri);
        }
        else if (attributes.TryGetValue(SparkConnectPort, out var portText)
            && int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            && attributes.TryGetValue(ServerUri, out var serverUri) && HostOf(serverUri) is { Length: > 0 } host)
        {
            address = host + ":" + port.ToString(CultureInfo.InvariantCulture);
        }

        var path = spacePath + "/" + name;
        return new EngineNode(path, name, attributes, address, SequenceOf(name), IdOf(spacePath, path, attributes, address));
    }

    /// <summary>
    /// The engine's id, the same when the engine registers again (a new node, a new sequence number, after its ZooKeeper
    /// session expired), so its sessions stay bound to it: its <c>engineId</c>, else Kyuubi's <c>refId</c> (one per
    /// engine), else its Spark Connect address in the space; only a node with none of them is known by its path.
    /// </summary>
    private static string IdOf(string spacePath, string path, Dictionary<string, string> attributes, string? address)
    {
        if (attributes.TryGetValue(EngineIdAttribute, out var engineId) && engineId.Length > 0)
        {
            return Uri.UnescapeDataString(engineId);
        }

        if (attributes.TryGetValue(RefIdAttribute, out var refId) && refId.Length > 0)
        {
            return "kyuubi:" + refId;
        }

        return address is not null ? "zookeeper:" + spacePath + "/" + address : "zookeeper:" + path;
    }

    /// <summary>The node name prefix for an engine this gateway registers (ZooKeeper appends the sequence number).</summary>
    public static string FormatName(string host, int port, string version, string engineId)
        => $"{ServerUri}={host}:{port.ToString(CultureInfo.InvariantCulture)};version={version};{EngineIdAttribute}={Uri.EscapeDataString(engineId)};{SparkConnectPort}={port.ToString(CultureInfo.InvariantCulture)};{Sequence}=";

    public static Dictionary<string, string> ParseAttributes(string text)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                attributes.TryAdd(part[..equals], part[(equals + 1)..]);
            }
        }

        return attributes;
    }

    private static string StripScheme(string uri)
    {
        var scheme = uri.IndexOf("://", StringComparison.Ordinal);
        return (scheme >= 0 ? uri[(scheme + 3)..] : uri).TrimEnd('/');
    }

    private static string? HostOf(string serverUri)
    {
        var hostPort = StripScheme(serverUri);
        var colon = hostPort.LastIndexOf(':');
        return colon > 0 ? hostPort[..colon] : hostPort;
    }

    private static long SequenceOf(string name)
    {
        // ZooKeeper appends a 10-digit counter to sequential nodes.
        var digits = 0;
        while (digits < name.Length && char.IsAsciiDigit(name[name.Length - 1 - digits]))
        {
            digits++;
        }

        return digits > 0 && long.TryParse(name.AsSpan(name.Length - digits), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) ? sequence : -1;
    }

    public override string ToString() => Path;
}
