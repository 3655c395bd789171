namespace SparkConnect.Multiplexer.Configuration;

/// <summary>
/// A configuration section a registered package binds, such as <c>SparkConnectGateway:LocalEngine</c>, and the options
/// type it binds to; <see langword="null"/> when the package checks its keys itself.
/// </summary>
internal sealed record GatewayConfigurationSection(string Path, Type? OptionsType);
