using k8s;
using k8s.KubeConfigModels;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Kubernetes.Internal;

namespace SparkConnect.Multiplexer.Kubernetes;

/// <summary>Checks the Kubernetes engine options at start-up and lists every problem with its fix.</summary>
/// <param name="inCluster">The in-cluster configuration the client would use when no server or kubeconfig file is set.</param>
internal sealed class KubernetesEngineOptionsValidator(InClusterConfiguration inCluster) : IValidateOptions<KubernetesEngineOptions>
{
    private const string Section = KubernetesEngineOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, KubernetesEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        if (options.Server is { } server && (!server.IsAbsoluteUri || (server.Scheme != Uri.UriSchemeHttp && server.Scheme != Uri.UriSchemeHttps)))
        {
            errors.Add($"{Section}:Server '{server}' is not an absolute http:// or https:// URL: give the API server's URL, e.g. https://10.0.0.1:6443, or remove it to use a kubeconfig or the in-cluster configuration.");
        }

        if (options.AccessToken is not null && options.Server is null)
        {
            errors.Add($"{Section}:AccessToken is only used with {Section}:Server: set Server, or remove AccessToken and put the credential in the kubeconfig.");
        }

        if (options.Server is null && options.KubeConfigPath is { Length: > 0 } path)
        {
            if (!File.Exists(path))
            {
                errors.Add($"{Section}:KubeConfigPath '{path}' does not exist: give the path of a kubeconfig file, or remove it to use the in-cluster configuration or the default kubeconfig.");
            }
            else
            {
                CheckKubeConfig(errors, path, options.KubeConfigContext);
            }
        }

        if (options.Server is null && string.IsNullOrEmpty(options.KubeConfigPath))
        {
            if (inCluster.NotInClusterReason is not { } notInCluster)
            {
                foreach (var problem in inCluster.Problems())
                {
                    errors.Add($"The in-cluster configuration cannot be used: {problem}. Fix the pod's service account or environment, or set {Section}:Server or {Section}:KubeConfigPath.");
                }
            }
            else if (!DefaultKubeConfigExists())
            {
                errors.Add($"No Kubernetes configuration was found: this process does not run in a pod ({notInCluster}), KUBECONFIG names no file and {KubernetesClientConfiguration.KubeConfigDefaultLocation} does not exist. Set {Section}:KubeConfigPath, {Section}:Server, or KUBECONFIG; in a pod, mount the service account token (automountServiceAccountToken).");
            }
        }

        if (options.Namespaces.Count == 0)
        {
            errors.Add($"{Section}:Namespaces is empty: add the namespace(s) engine pods run in, e.g. {Section}:Namespaces:0 = spark.");
        }

        for (var i = 0; i < options.Namespaces.Count; i++)
        {
            if (!EnginePods.IsDnsLabel(options.Namespaces[i] ?? ""))
            {
                errors.Add($"{Section}:Namespaces:{i} '{options.Namespaces[i]}' is not a namespace name: use 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit.");
            }
        }

        CheckLabelName(errors, "Labels:ShareLevel", options.Labels.ShareLevel);
        CheckLabelName(errors, "Labels:Owner", options.Labels.Owner);
        CheckLabelName(errors, "Labels:Subdomain", options.Labels.Subdomain);
        CheckLabelName(errors, "Labels:ManagedBy", options.Labels.ManagedBy);
        CheckLabelName(errors, "Labels:LaunchedBy", options.Labels.LaunchedBy);
        var keyLabels = new[] { options.Labels.ShareLevel, options.Labels.Owner, options.Labels.Subdomain, options.Labels.ManagedBy, options.Labels.LaunchedBy };
        if (keyLabels.Distinct(StringComparer.Ordinal).Count() != keyLabels.Length)
        {
            errors.Add($"{Section}:Labels: ShareLevel, Owner, Subdomain, ManagedBy and LaunchedBy must be five different label names.");
        }

        if (options.MaxEngines < 0)
        {
            errors.Add($"{Section}:MaxEngines is {options.MaxEngines}: set a positive number of engine pods (default 50), or 0 for no limit.");
        }

        if (options.MaxEnginesPerUser < 0)
        {
            errors.Add($"{Section}:MaxEnginesPerUser is {options.MaxEnginesPerUser}: set a positive number of engine pods per user (default 5), or 0 for no limit.");
        }

        if (options.RedactedKeyPatterns is { } patterns)
        {
            for (var i = 0; i < patterns.Count; i++)
            {
                if (!SecretRedactor.IsValidPattern(patterns[i]))
                {
                    errors.Add($"{Section}:RedactedKeyPatterns:{i} is '{patterns[i]}': a pattern is a key name of ASCII letters, digits, '.', '-', '_' with '*' for any characters, and not only '*' (for example *secret*). Remove the setting to use the defaults ({string.Join(", ", SecretRedactor.DefaultKeyPatterns)}).");
                }
            }
        }

        CheckLabelName(errors, "PortLabel", options.PortLabel);
        if (string.IsNullOrWhiteSpace(options.PortName))
        {
            errors.Add($"{Section}:PortName is empty: give the name of the container port that serves Spark Connect (default {KubernetesEngineOptions.DefaultPortName}).");
        }

        CheckPositive(errors, "ResyncInterval", options.ResyncInterval);
        CheckPositive(errors, "WatchRetryDelay", options.WatchRetryDelay);
        CheckPositive(errors, "InitializationTimeout", options.InitializationTimeout);
        CheckPositive(errors, "EngineIdleTimeout", options.EngineIdleTimeout);
        CheckPositive(errors, "CleanupInterval", options.CleanupInterval);
        if (!Enum.IsDefined(options.TerminatedPods))
        {
            errors.Add($"{Section}:TerminatedPods must be Delete or Keep.");
        }

        if (options.LaunchEngines)
        {
            var template = options.PodTemplate;
            if (string.IsNullOrWhiteSpace(template.Image))
            {
                errors.Add($"{Section}:PodTemplate:Image is empty: give the Spark image engine pods run, e.g. apache/spark:4.0.1, or set {Section}:LaunchEngines = false when engines are started by something else.");
            }

            if (template.Port is < 1 or > 65535)
            {
                errors.Add($"{Section}:PodTemplate:Port {template.Port} is not a TCP port: use 1 to 65535 (Spark Connect's default is 15002).");
            }

            var prefix = template.NamePrefix ?? "";
            if (prefix.Length > 30 || (prefix.Length > 0 && !EnginePods.IsDnsLabel(prefix.TrimEnd('-') + "a")))
            {
                errors.Add($"{Section}:PodTemplate:NamePrefix '{prefix}' must be at most 30 lower-case letters, digits or '-', starting with a letter or digit.");
            }

            if (!EnginePods.IsDnsLabel(template.ContainerName ?? ""))
            {
                errors.Add($"{Section}:PodTemplate:ContainerName '{template.ContainerName}' is not a container name: use 1 to 63 lower-case letters, digits or '-'.");
            }

            if (template.ImagePullPolicy is { } policy && policy is not ("Always" or "IfNotPresent" or "Never"))
            {
                errors.Add($"{Section}:PodTemplate:ImagePullPolicy '{policy}' must be Always, IfNotPresent or Never.");
            }

            foreach (var (label, value) in template.Labels)
            {
                if (!EnginePods.IsValidLabelName(label) || !EnginePods.IsValidLabelValue(value ?? ""))
                {
                    errors.Add($"{Section}:PodTemplate:Labels '{label}' = '{value}' is not a valid label: names are [prefix/]name, values at most 63 letters, digits, '-', '_' or '.'.");
                }
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>The file must parse, and a context named in the options must be in it (else the client fails on first use, not at start-up).</summary>
    private static void CheckKubeConfig(List<string> errors, string path, string? context)
    {
        K8SConfiguration config;
        try
        {
            config = KubernetesClientConfiguration.LoadKubeConfig(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            errors.Add($"{Section}:KubeConfigPath '{path}' could not be read as a kubeconfig file ({e.Message}): fix the file or give another.");
            return;
        }

        var known = config.Contexts?.Select(c => c.Name).ToList() ?? [];
        var contexts = known.Count == 0 ? "none" : string.Join(", ", known);
        if (context is { Length: > 0 } && !known.Contains(context, StringComparer.Ordinal))
        {
            errors.Add($"{Section}:KubeConfigContext '{context}' is not a context of '{path}' (it has: {contexts}): give one of them, or remove it to use the file's current context.");
        }
        else if (string.IsNullOrEmpty(context) && string.IsNullOrEmpty(config.CurrentContext))
        {
            errors.Add($"'{path}' names no current-context: set {Section}:KubeConfigContext to one of its contexts ({contexts}).");
        }
    }

    private static bool DefaultKubeConfigExists()
        => Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } paths
            ? paths.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Any(File.Exists)
            : File.Exists(KubernetesClientConfiguration.KubeConfigDefaultLocation);

    private static void CheckLabelName(List<string> errors, string option, string? value)
    {
        if (!EnginePods.IsValidLabelName(value ?? ""))
        {
            errors.Add($"{Section}:{option} '{value}' is not a valid label name: use [DNS-subdomain-prefix/]name, the name at most 63 letters, digits, '-', '_' or '.', e.g. example.com/owner.");
        }
    }

    private static void CheckPositive(List<string> errors, string option, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:{option} must be positive (a TimeSpan such as 00:00:30).");
        }
    }
}
