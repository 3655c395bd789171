using System.Diagnostics;

namespace SparkConnect.Multiplexer.Internal;

/// <summary>The gateway's <see cref="ActivitySource"/>: one client span per forwarded call, parent of the engine's.</summary>
internal static class GatewayActivitySource
{
    public const string Name = "SparkConnect.Multiplexer";

    public static readonly ActivitySource Instance = new(Name, typeof(GatewayActivitySource).Assembly.GetName().Version?.ToString());
}
