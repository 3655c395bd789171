namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Configures the Spark Connect gateway; returned by <c>AddSparkConnectGateway()</c>.</summary>
public interface ISparkConnectGatewayBuilder
{
    /// <summary>The host's service collection.</summary>
    IServiceCollection Services { get; }
}
