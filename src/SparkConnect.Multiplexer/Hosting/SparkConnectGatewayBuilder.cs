using SparkConnect.Multiplexer.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

internal sealed class SparkConnectGatewayBuilder(IServiceCollection services, GatewayRegistrations registrations) : ISparkConnectGatewayBuilder
{
    public IServiceCollection Services { get; } = services;

    public GatewayRegistrations Registrations { get; } = registrations;
}
