using System.Globalization;
using System.Text;

namespace SparkConnect.Multiplexer.Processes.Launching;

/// <summary>What a launch is for: the values the templates' placeholders stand for.</summary>
internal sealed record EngineLaunchContext(
    string EngineId,
    EngineKey Key,
    string User,
    string Host,
    int Port,
    string WorkDirectory,
    IReadOnlyDictionary<string, string> Hints,
    string EngineToken = "");

/// <summary>The program, arguments and environment of one engine process.</summary>
internal sealed record EngineCommandLine(string FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment)
{
    public const string PortPlaceholder = "{port}";

    /// <summary>A random secret made for each engine; when a template uses it, the gateway presents it to the engine as its bearer token.</summary>
    public const string EngineTokenPlaceholder = "{engineToken}";
    public const string UserPlaceholder = "{user}";

    /// <summary>
    /// Builds the command line: <see cref="ProcessEngineOptions.Arguments"/>, the proxy-user arguments when
    /// impersonating (not for SERVER engines), the configured confs, then the client's allowed confs; every template
    /// filled in.
    /// </summary>
    public static EngineCommandLine Build(ProcessEngineOptions options, EngineLaunchContext context)
    {
        var arguments = new List<string>();
        foreach (var argument in options.Arguments)
        {
            arguments.Add(Fill(argument, context));
        }

        if (options.Impersonation && context.Key.ShareLevel != ShareLevel.Server)
        {
            foreach (var argument in options.ProxyUserArguments ?? [.. ProcessEngineOptions.DefaultProxyUserArguments])
            {
                arguments.Add(Fill(argument, context));
            }
        }

        foreach (var (key, value) in options.Confs)
        {
            arguments.Add(options.ConfArgumentName);
            arguments.Add(key + "=" + Fill(value, context));
        }

        foreach (var key in options.AllowedClientConfs)
        {
            // Hints are keyed case-insensitively (gRPC metadata names are lower case); the conf keeps the configured
            // spelling. A client's value is one argument, never parsed by a shell, and never templated.
            if (context.Hints.TryGetValue(key, out var value))
            {
                arguments.Add(options.ConfArgumentName);
                arguments.Add(key + "=" + value);
            }
        }

        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (variable, value) in options.Environment)
        {
            environment[variable] = Fill(value, context);
        }

        return new EngineCommandLine(options.Command, arguments, environment);
    }

    /// <summary>Whether any template passes the engine its token, so the gateway must present it.</summary>
    public static bool UsesEngineToken(ProcessEngineOptions options)
        => options.Arguments.Concat(options.Confs.Values).Concat(options.Environment.Values).Concat(options.ProxyUserArguments ?? [])
            .Any(t => t.Contains(EngineTokenPlaceholder, StringComparison.Ordinal));

    /// <summary>Replaces the placeholders in <paramref name="template"/>; other braces are left as they are.</summary>
    public static string Fill(string template, EngineLaunchContext context)
    {
        if (!template.Contains('{', StringComparison.Ordinal))
        {
            return template;
        }

        return new StringBuilder(template)
            .Replace(PortPlaceholder, context.Port.ToString(CultureInfo.InvariantCulture))
            .Replace(UserPlaceholder, context.User)
            .Replace("{owner}", context.Key.Owner)
            .Replace("{shareLevel}", context.Key.ShareLevel.ToString().ToUpperInvariant())
            .Replace("{subdomain}", context.Key.Subdomain)
            .Replace("{engineId}", context.EngineId)
            .Replace("{workDir}", context.WorkDirectory)
            .Replace("{host}", context.Host)
            .Replace(EngineTokenPlaceholder, context.EngineToken)
            .ToString();
    }

    /// <summary>
    /// The command line for logs and messages: arguments quoted where needed, secrets masked by
    /// <paramref name="redactor"/> (values of sensitive keys, the argument after a sensitive flag) and
    /// <paramref name="engineToken"/> masked wherever it appears.
    /// </summary>
    public string ToDisplayString(SecretRedactor? redactor = null, string? engineToken = null)
    {
        var text = new StringBuilder(Quote((redactor ?? SecretRedactor.Default).Redact(FileName, engineToken)));
        foreach (var argument in (redactor ?? SecretRedactor.Default).RedactArguments(Arguments, engineToken))
        {
            text.Append(' ').Append(Quote(argument));
        }

        return text.ToString();
    }

    private static string Quote(string argument)
        => argument.Length > 0 && !argument.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\')
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
