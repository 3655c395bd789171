using System.Net;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Processes.Launching;

namespace SparkConnect.Multiplexer.Processes;

/// <summary>Collects every error in <see cref="ProcessEngineOptions"/>, each with the fix, so one start-up shows them all.</summary>
internal sealed class ProcessEngineOptionsValidator : IValidateOptions<ProcessEngineOptions>
{
    private const string Section = ProcessEngineOptions.SectionName;

    /// <summary>Confs a client must never choose: the gateway decides where the engine listens and how it is reached.</summary>
    private static readonly string[] ReservedClientConfs =
    [
        "spark.connect.grpc.binding.port", "spark.connect.grpc.binding.address", "spark.connect.authenticate.token",
        "spark.master", "spark.submit.deployMode", "spark.yarn.principal", "spark.kerberos.principal",
    ];

    public ValidateOptionsResult Validate(string? name, ProcessEngineOptions options)
    {
        var errors = new List<string>();

        if (string.IsNullOrWhiteSpace(options.Command))
        {
            errors.Add($"{Section}:Command is empty; set the program that starts an engine, for example /opt/spark/sbin/start-connect-server.sh or /opt/spark/bin/spark-submit.");
        }

        ValidateTemplates(options, errors);
        ValidateTimes(options, errors);

        if (options.MaxConcurrentLaunches < 1)
        {
            errors.Add($"{Section}:MaxConcurrentLaunches is {options.MaxConcurrentLaunches}; set at least 1 (default 4).");
        }

        if (options.MaxEngines < 0)
        {
            errors.Add($"{Section}:MaxEngines is {options.MaxEngines}; set a positive number of engine processes (default 50), or 0 for no limit.");
        }

        if (options.MaxEnginesPerUser < 0)
        {
            errors.Add($"{Section}:MaxEnginesPerUser is {options.MaxEnginesPerUser}; set a positive number of engine processes per user (default 5), or 0 for no limit.");
        }

        if (options.RedactedKeyPatterns is { } patterns)
        {
            for (var i = 0; i < patterns.Count; i++)
            {
                if (!SecretRedactor.IsValidPattern(patterns[i]))
                {
                    errors.Add($"{Section}:RedactedKeyPatterns:{i} is '{patterns[i]}'; a pattern is a key name of ASCII letters, digits, '.', '-', '_' with '*' for any characters, and not only '*' (for example *secret*). Remove the setting to use the defaults ({string.Join(", ", SecretRedactor.DefaultKeyPatterns)}).");
                }
            }
        }

        if (string.IsNullOrWhiteSpace(options.Host) || Uri.CheckHostName(options.Host) == UriHostNameType.Unknown)
        {
            errors.Add($"{Section}:Host is '{options.Host}'; set the address engines listen on, for example 127.0.0.1.");
        }
        else if (IPAddress.TryParse(options.Host, out var address) && (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)))
        {
            errors.Add($"{Section}:Host is '{options.Host}', which the gateway cannot connect to; set the address of this machine engines listen on, for example 127.0.0.1.");
        }

        if (options.EngineTokenSecret is { } secret && (secret.Length < EngineAccessToken.MinSecretLength || secret.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            errors.Add($"{Section}:EngineTokenSecret must be at least {EngineAccessToken.MinSecretLength} characters without spaces or control characters, the same on every gateway replica; for example the output of 'openssl rand -hex 32'.");
        }

        if (string.IsNullOrWhiteSpace(options.WorkingDirectory))
        {
            errors.Add($"{Section}:WorkingDirectory is empty; set a directory the gateway may write engine logs to (default: spark-connect-engines under the temporary directory).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateTemplates(ProcessEngineOptions options, List<string> errors)
    {
        var usesPort = options.Arguments.Any(HasPort)
            || options.Confs.Values.Any(HasPort)
            || options.Environment.Values.Any(HasPort);
        if (!usesPort)
        {
            errors.Add($"{Section} never passes the engine its port: add the {{port}} placeholder to {Section}:Arguments, or set {Section}:Confs:spark.connect.grpc.binding.port to {{port}}.");
        }

        if (options.Impersonation)
        {
            var proxyUser = options.ProxyUserArguments ?? [.. ProcessEngineOptions.DefaultProxyUserArguments];
            if (!proxyUser.Any(a => a.Contains(EngineCommandLine.UserPlaceholder, StringComparison.Ordinal)))
            {
                errors.Add($"{Section}:Impersonation is on but {Section}:ProxyUserArguments does not contain {{user}}; remove the setting to use '--proxy-user {{user}}', or include {{user}}.");
            }
        }

        if (string.IsNullOrWhiteSpace(options.ConfArgumentName) && (options.Confs.Count > 0 || options.AllowedClientConfs.Count > 0))
        {
            errors.Add($"{Section}:ConfArgumentName is empty; set the argument that precedes each conf (default --conf).");
        }

        foreach (var key in options.Confs.Keys)
        {
            if (!IsConfKey(key))
            {
                errors.Add($"{Section}:Confs has the key '{key}'; a conf key must be non-empty, without '=' or white space (for example spark.executor.memory).");
            }
        }

        for (var i = 0; i < options.AllowedClientConfs.Count; i++)
        {
            var key = options.AllowedClientConfs[i];
            if (!IsConfKey(key) || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            {
                errors.Add($"{Section}:AllowedClientConfs:{i} is '{key}'; clients send hints as gRPC metadata, so a key may hold only ASCII letters, digits, '.', '-' and '_' (for example spark.executor.memory).");
            }
            else if (ReservedClientConfs.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{Section}:AllowedClientConfs:{i} is '{key}', which only the gateway may set; remove it.");
            }
        }

        foreach (var (variable, _) in options.Environment)
        {
            if (string.IsNullOrWhiteSpace(variable) || variable.Contains('='))
            {
                errors.Add($"{Section}:Environment has the variable '{variable}'; a variable name must be non-empty and without '='.");
            }
        }

        static bool HasPort(string? template) => template?.Contains(EngineCommandLine.PortPlaceholder, StringComparison.Ordinal) == true;

        static bool IsConfKey(string key) => !string.IsNullOrWhiteSpace(key) && !key.Contains('=') && !key.Any(char.IsWhiteSpace);
    }

    private static void ValidateTimes(ProcessEngineOptions options, List<string> errors)
    {
        Positive(options.InitializationTimeout, "InitializationTimeout", "00:03:00");
        Positive(options.ReadinessProbeInterval, "ReadinessProbeInterval", "00:00:01");
        Positive(options.EngineIdleTimeout, "EngineIdleTimeout", "00:30:00");
        Positive(options.IdleCheckInterval, "IdleCheckInterval", "00:00:30");
        if (options.StopGracePeriod < TimeSpan.Zero)
        {
            errors.Add($"{Section}:StopGracePeriod is {options.StopGracePeriod}; set zero (kill at once) or a positive duration such as 00:00:15.");
        }

        if (options.WorkDirectoryRetention is { } retention && retention <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:WorkDirectoryRetention is {retention}; set a positive duration such as 7.00:00:00, or remove it to keep engine directories for ever.");
        }

        if (options.LaunchFailureBackoff < TimeSpan.Zero)
        {
            errors.Add($"{Section}:LaunchFailureBackoff is {options.LaunchFailureBackoff}; set zero (no back-off) or a positive duration such as 00:00:10.");
        }

        if (options.MaxLaunchFailureBackoff < options.LaunchFailureBackoff)
        {
            errors.Add($"{Section}:MaxLaunchFailureBackoff ({options.MaxLaunchFailureBackoff}) is shorter than {Section}:LaunchFailureBackoff ({options.LaunchFailureBackoff}); set it at least as long, for example 00:05:00.");
        }

        if (options.MaxEngineLifetime is { } lifetime && lifetime <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:MaxEngineLifetime is {lifetime}; set a positive duration such as 1.00:00:00, or remove it for no limit.");
        }

        if (options.ReadinessProbeInterval > TimeSpan.Zero && options.InitializationTimeout > TimeSpan.Zero
            && options.ReadinessProbeInterval >= options.InitializationTimeout)
        {
            errors.Add($"{Section}:ReadinessProbeInterval ({options.ReadinessProbeInterval}) is not shorter than {Section}:InitializationTimeout ({options.InitializationTimeout}); shorten the interval (default 00:00:01) or lengthen the timeout.");
        }

        void Positive(TimeSpan value, string key, string example)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"{Section}:{key} is {value}; set a positive duration such as {example}.");
            }
        }
    }
}
