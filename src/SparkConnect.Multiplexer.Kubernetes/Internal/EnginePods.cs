using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using k8s.Models;

namespace SparkConnect.Multiplexer.Kubernetes.Internal;

/// <summary>How engine keys map to pod labels, and what makes a pod a usable engine.</summary>
internal static class EnginePods
{
    /// <summary>The value of the managed-by label on pods this gateway launches.</summary>
    public const string ManagerName = "spark-connect-multiplexer";

    private const int MaxLabelValueLength = 63;
    private const int HashLength = 8;

    /// <summary>
    /// A valid label value for <paramref name="value"/> (at most 63 of letters, digits, '-', '_', '.', starting and
    /// ending alphanumeric). A value that had to change gets a hash suffix of the original, so two different values
    /// never share a label value.
    /// </summary>
    public static string LabelValue(string value)
    {
        if (IsValidLabelValue(value))
        {
            return value;
        }

        var cleaned = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            cleaned.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-');
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..HashLength];
        var head = cleaned.ToString().Trim('-', '_', '.');
        if (head.Length > MaxLabelValueLength - HashLength - 1)
        {
            head = head[..(MaxLabelValueLength - HashLength - 1)].TrimEnd('-', '_', '.');
        }

        return head.Length == 0 ? hash : head + "-" + hash;
    }

    public static bool IsValidLabelValue(string value)
    {
        if (value.Length == 0)
        {
            return true;
        }

        if (value.Length > MaxLabelValueLength || !char.IsAsciiLetterOrDigit(value[0]) || !char.IsAsciiLetterOrDigit(value[^1]))
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="name"/> is a valid label name: an optional DNS subdomain prefix and '/', then a name part.</summary>
    public static bool IsValidLabelName(string name)
    {
        var slash = name.LastIndexOf('/');
        var prefix = slash < 0 ? null : name[..slash];
        var local = slash < 0 ? name : name[(slash + 1)..];
        if (local.Length is 0 or > MaxLabelValueLength || !IsValidLabelValue(local))
        {
            return false;
        }

        return prefix is null || (prefix.Length is > 0 and <= 253 && prefix.Split('.').All(IsDnsLabel));
    }

    /// <summary>Whether <paramref name="value"/> is an RFC 1123 DNS label (namespaces, pod name parts).</summary>
    public static bool IsDnsLabel(string value)
        => value.Length is > 0 and <= 63
            && char.IsAsciiLetterLower(value[0]) | char.IsAsciiDigit(value[0])
            && char.IsAsciiLetterLower(value[^1]) | char.IsAsciiDigit(value[^1])
            && value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    /// <summary>The labels that carry <paramref name="key"/>.</summary>
    public static Dictionary<string, string> KeyLabels(EngineKey key, KubernetesEngineLabelOptions labels) => new(StringComparer.Ordinal)
    {
        [labels.ShareLevel] = LabelValue(key.ShareLevel.ToString().ToUpperInvariant()),
        [labels.Owner] = LabelValue(key.Owner),
        [labels.Subdomain] = LabelValue(key.Subdomain),
    };

    /// <summary>Whether the pod's labels carry <paramref name="keyLabels"/>.</summary>
    public static bool HasLabels(V1Pod pod, Dictionary<string, string> keyLabels)
    {
        var labels = pod.Metadata?.Labels;
        if (labels is null)
        {
            return false;
        }

        foreach (var (name, value) in keyLabels)
        {
            if (!labels.TryGetValue(name, out var actual) || actual != value)
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsManaged(V1Pod pod, KubernetesEngineLabelOptions labels)
        => pod.Metadata?.Labels is { } podLabels && podLabels.TryGetValue(labels.ManagedBy, out var manager) && manager == ManagerName;

    /// <summary>Running, Ready, not being deleted, and with an IP.</summary>
    public static bool IsServing(V1Pod pod)
        => pod.Status is { Phase: "Running" } status
            && pod.Metadata?.DeletionTimestamp is null
            && !string.IsNullOrEmpty(status.PodIP)
            && status.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    public static bool IsTerminated(V1Pod pod) => pod.Status?.Phase is "Failed" or "Succeeded";

    /// <summary>The Spark Connect port: the port label, else annotation, else the named container port.</summary>
    public static int? PortOf(V1Pod pod, KubernetesEngineOptions options)
    {
        if (Parse(pod.Metadata?.Labels) is { } fromLabel)
        {
            return fromLabel;
        }

        if (Parse(pod.Metadata?.Annotations) is { } fromAnnotation)
        {
            return fromAnnotation;
        }

        foreach (var container in pod.Spec?.Containers ?? [])
        {
            foreach (var port in container.Ports ?? [])
            {
                if (string.Equals(port.Name, options.PortName, StringComparison.Ordinal) && port.ContainerPort is > 0 and <= 65535)
                {
                    return port.ContainerPort;
                }
            }
        }

        return null;

        int? Parse(IDictionary<string, string>? values)
            => values is not null && values.TryGetValue(options.PortLabel, out var text)
                && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
                ? port
                : null;
    }

    /// <summary><c>k8s:{namespace}/{pod name}:{uid prefix}</c>.</summary>
    public static string EngineIdOf(V1Pod pod)
    {
        var uid = pod.Metadata?.Uid ?? "";
        return $"k8s:{pod.Metadata?.NamespaceProperty}/{pod.Metadata?.Name}:{(uid.Length > 8 ? uid[..8] : uid)}";
    }

    public static string NameOf(V1Pod pod) => pod.Metadata?.Name ?? "";

    /// <summary>When the pod was created (its creation timestamp), for choosing the oldest of several.</summary>
    public static DateTime CreatedOf(V1Pod pod) => pod.Metadata?.CreationTimestamp ?? DateTime.MaxValue;
}
