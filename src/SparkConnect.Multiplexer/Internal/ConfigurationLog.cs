using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.Internal;

/// <summary>Log lines about configuration reloads.</summary>
internal static partial class ConfigurationLog
{
    [LoggerMessage(301, LogLevel.Error, "A configuration reload of {OptionsType} was refused with {Count} problem(s), listed below; the last good configuration stays in force until they are fixed.")]
    public static partial void ReloadRefused(ILogger logger, string optionsType, int count);

    [LoggerMessage(302, LogLevel.Error, "Configuration reload refused: {Problem}")]
    public static partial void ReloadProblem(ILogger logger, string problem);

    [LoggerMessage(303, LogLevel.Information, "The configuration of {OptionsType} reloaded and is valid again; it is now in force.")]
    public static partial void ReloadAccepted(ILogger logger, string optionsType);
}
