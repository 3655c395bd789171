using System.Globalization;

namespace SparkConnect.Multiplexer.Sql.Connection;

/// <summary>
/// A Spark Connect connection string, <c>sc://host:port/;token=T;user_id=U;use_ssl=true;k=v</c>, read the way the
/// Spark clients read it: reserved keys configure the client, every other key becomes a gRPC metadata header.
/// </summary>
internal sealed class ConnectionString
{
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal) { "token", "user_id", "use_ssl", "session_id", "user_agent", "grpc_max_message_size" };

    public required string Host { get; init; }

    public int Port { get; init; } = 15002;

    public bool UseSsl { get; init; }

    public string? Token { get; init; }

    public string UserId { get; init; } = Environment.UserName;

    public string SessionId { get; init; } = Guid.NewGuid().ToString();

    public string UserAgent { get; init; } = "SparkConnect.Multiplexer.Sql";

    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>Whether the host is this machine, where a token may travel without TLS (a trial on loopback).</summary>
    public bool IsLoopback => Host is "localhost" or "127.0.0.1" or "[::1]";

    public static ConnectionString Parse(string text)
    {
        if (!text.StartsWith("sc://", StringComparison.Ordinal))
        {
            throw new FormatException("The connection string must start with sc:// (for example sc://localhost:15002/;user_id=alice).");
        }

        var rest = text["sc://".Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var hostPort = slash < 0 ? rest : rest[..slash];
        var parameters = slash < 0 ? "" : rest[(slash + 1)..];
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in parameters.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new FormatException($"Connection string parameter '{part}' is not key=value.");
            }

            values[Uri.UnescapeDataString(part[..equals])] = Uri.UnescapeDataString(part[(equals + 1)..]);
        }

        var host = hostPort;
        var port = 15002;
        var colon = hostPort.LastIndexOf(':');
        if (colon > 0 && !hostPort.EndsWith(']'))
        {
            host = hostPort[..colon];
            if (!int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            {
                throw new FormatException($"The port in '{hostPort}' is not a number from 1 to 65535.");
            }
        }

        if (host.Length == 0)
        {
            throw new FormatException("The connection string names no host (for example sc://localhost:15002).");
        }

        var useSsl = false;
        if (values.TryGetValue("use_ssl", out var ssl) && !bool.TryParse(ssl, out useSsl))
        {
            throw new FormatException($"use_ssl is '{ssl}'; use true or false.");
        }

        return new ConnectionString
        {
            Host = host,
            Port = port,
            UseSsl = useSsl,
            Token = values.GetValueOrDefault("token"),
            UserId = values.GetValueOrDefault("user_id") ?? Environment.UserName,
            SessionId = values.GetValueOrDefault("session_id") ?? Guid.NewGuid().ToString(),
            UserAgent = values.GetValueOrDefault("user_agent") ?? "SparkConnect.Multiplexer.Sql",
            Headers = values.Where(p => !Reserved.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
        };
    }
}
