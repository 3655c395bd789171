namespace Microsoft.Extensions.DependencyInjection;

internal sealed class SparkConnectGatewayBuilder(IServiceCollection services) : ISparkConnectGatewayBuilder
{
    public IServiceCollection Services { get; } = services;
}
