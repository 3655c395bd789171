namespace SparkConnect.Multiplexer.Configuration;

/// <summary>What the host registered through the builder, so validation knows which built-ins are in use.</summary>
internal sealed class GatewayRegistrations
{
    public int CustomAuthenticatorCount { get; set; }

    public bool HasCustomEngineLocator { get; set; }

    /// <summary>Whether <c>MapSparkConnectGateway()</c> mapped the gateway's endpoint.</summary>
    public bool IsMapped { get; set; }
}
