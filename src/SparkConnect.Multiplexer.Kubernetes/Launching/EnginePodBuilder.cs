using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using k8s.Models;
using SparkConnect.Multiplexer.Kubernetes.Internal;

namespace SparkConnect.Multiplexer.Kubernetes.Launching;

/// <summary>Renders the configured pod template into the driver pod of one engine key.</summary>
internal static class EnginePodBuilder
{
    /// <summary>The user the engine runs queries as (as Apache Kyuubi): the session's user, the group, or <c>spark</c> for SERVER.</summary>
    public static string UserOf(EngineRequest request) => request.Key.ShareLevel switch
    {
        ShareLevel.Group => request.Key.Owner,
        ShareLevel.Server => "spark",
        _ => request.Principal.UserName,
    };

    /// <summary>A new pod name: the prefix, the owner as a DNS label part, and a random suffix.</summary>
    public static string NewPodName(KubernetesPodTemplateOptions template, EngineKey key)
    {
        var owner = new StringBuilder();
        foreach (var c in key.Owner.ToLowerInvariant())
        {
            owner.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '-');
        }

        var part = owner.ToString().Trim('-');
        if (part.Length > 20)
        {
            part = part[..20].TrimEnd('-');
        }

        var suffix = RandomNumberGenerator.GetHexString(8, lowercase: true);
        var name = template.NamePrefix + (part.Length > 0 ? part + "-" : "") + suffix;
        return name.TrimStart('-');
    }

    public static V1Pod Build(KubernetesEngineOptions options, EngineRequest request, string ns, string podName)
    {
        var template = options.PodTemplate;
        var key = request.Key;
        var port = template.Port.ToString(CultureInfo.InvariantCulture);
        var user = UserOf(request);
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["{port}"] = port,
            ["{user}"] = user,
            ["{owner}"] = key.Owner,
            ["{shareLevel}"] = key.ShareLevel.ToString().ToUpperInvariant(),
            ["{subdomain}"] = key.Subdomain,
            ["{namespace}"] = ns,
            ["{podName}"] = podName,
        };

        var arguments = new List<string>();
        arguments.AddRange(template.Arguments.Select(a => Render(a, values)));
        if (template.Impersonation && key.ShareLevel != ShareLevel.Server)
        {
            arguments.AddRange((template.ProxyUserArguments ?? [.. KubernetesPodTemplateOptions.DefaultProxyUserArguments]).Select(a => Render(a, values)));
        }

        var confs = new Dictionary<string, string>(StringComparer.Ordinal) { ["spark.connect.grpc.binding.port"] = port };
        foreach (var (name, value) in template.Confs)
        {
            confs[name] = Render(value, values);
        }

        foreach (var (name, value) in confs)
        {
            arguments.Add(template.ConfArgumentName);
            arguments.Add(name + "=" + value);
        }

        arguments.AddRange(template.TrailingArguments.Select(a => Render(a, values)));

        var labels = new Dictionary<string, string>(template.Labels, StringComparer.Ordinal);
        foreach (var (name, value) in EnginePods.KeyLabels(key, options.Labels))
        {
            labels[name] = value;
        }

        labels[options.Labels.ManagedBy] = EnginePods.ManagerName;
        labels[options.Labels.LaunchedBy] = EnginePods.LabelValue(request.Principal.UserName);
        labels[options.PortLabel] = port;

        var environment = new List<V1EnvVar>
        {
            new() { Name = "SPARK_DRIVER_BIND_ADDRESS", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } } },
        };
        environment.AddRange(template.Environment.Select(e => new V1EnvVar { Name = e.Key, Value = Render(e.Value, values) }));

        var requests = Quantities(template.CpuRequest, template.MemoryRequest);
        var limits = Quantities(template.CpuLimit, template.MemoryLimit);

        return new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta
            {
                Name = podName,
                NamespaceProperty = ns,
                Labels = labels,
                Annotations = template.Annotations.Count > 0 ? new Dictionary<string, string>(template.Annotations, StringComparer.Ordinal) : null,
            },
            Spec = new V1PodSpec
            {
                RestartPolicy = "Never",
                ServiceAccountName = template.ServiceAccountName,
                Containers =
                [
                    new V1Container
                    {
                        Name = template.ContainerName,
                        Image = template.Image,
                        ImagePullPolicy = template.ImagePullPolicy,
                        Command = template.Command.Count > 0 ? [.. template.Command] : null,
                        Args = arguments,
                        Env = environment,
                        Ports = [new V1ContainerPort { Name = options.PortName, ContainerPort = template.Port, Protocol = "TCP" }],
                        ReadinessProbe = new V1Probe
                        {
                            TcpSocket = new V1TCPSocketAction { Port = template.Port },
                            PeriodSeconds = 2,
                        },
                        Resources = requests is null && limits is null ? null : new V1ResourceRequirements { Requests = requests, Limits = limits },
                    },
                ],
            },
        };
    }

    private static Dictionary<string, ResourceQuantity>? Quantities(string? cpu, string? memory)
    {
        if (cpu is null && memory is null)
        {
            return null;
        }

        var quantities = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal);
        if (cpu is not null)
        {
            quantities["cpu"] = new ResourceQuantity(cpu);
        }

        if (memory is not null)
        {
            quantities["memory"] = new ResourceQuantity(memory);
        }

        return quantities;
    }

    private static string Render(string template, Dictionary<string, string> values)
    {
        var text = template;
        foreach (var (placeholder, value) in values)
        {
            text = text.Replace(placeholder, value, StringComparison.Ordinal);
        }

        return text;
    }
}
