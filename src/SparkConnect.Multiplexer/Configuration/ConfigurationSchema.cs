using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace SparkConnect.Multiplexer.Configuration;

/// <summary>
/// Checks a configuration section against the options type it binds to, before the binder runs: the binder skips
/// list items it cannot convert (so a misspelt share level widened an authorization rule to every level) and stops
/// at the first bad value with an exception that names neither the valid values nor the format.
/// </summary>
internal static class ConfigurationSchema
{
    // Sections of the first-party packages, and how to put each package in use.
    internal static readonly Dictionary<string, string> PackageSections = new(StringComparer.OrdinalIgnoreCase)
    {
        ["SparkConnectGateway:LocalEngine"] = "AddLocalEngines() (package SparkConnect.Multiplexer.LocalEngine)",
        ["SparkConnectGateway:ProcessEngines"] = "AddProcessEngines() (package SparkConnect.Multiplexer.Processes)",
        ["SparkConnectGateway:Kubernetes"] = "AddKubernetesEngines() (package SparkConnect.Multiplexer.Kubernetes)",
        ["SparkConnectGateway:ZooKeeper"] = "AddZooKeeperEngines() or AddZooKeeperDiscovery() (package SparkConnect.Multiplexer.ZooKeeper)",
        ["SparkConnectGateway:Redis"] = "AddRedisSessionStore() (package SparkConnect.Multiplexer.Redis)",
        ["SparkConnectGateway:Authentication:Jwt"] = "AddJwtAuthenticator() (package SparkConnect.Multiplexer.Authentication)",
        ["SparkConnectGateway:Authentication:Ldap"] = "AddLdapAuthenticator() (package SparkConnect.Multiplexer.Authentication)",
        ["SparkConnectGateway:Authentication:ClientCertificate"] = "AddClientCertificateAuthenticator() (package SparkConnect.Multiplexer.Authentication)",
        ["SparkConnectGateway:Authentication:HostScheme"] = "AddHostSchemeAuthenticator() (package SparkConnect.Multiplexer.Authentication)",
    };

    /// <summary>
    /// Every value under <paramref name="path"/> that would not bind to <paramref name="type"/>, and every key that
    /// nothing binds, each with its fix. Keys under <paramref name="claimedPaths"/> (sections other packages bind and
    /// check) are left alone.
    /// </summary>
    public static List<string> Check(IConfiguration configuration, string path, Type type, IReadOnlyCollection<string> claimedPaths)
    {
        var errors = new List<string>();
        var section = configuration.GetSection(path);
        if (section.Exists())
        {
            new Walker(claimedPaths, errors).CheckNode(section, type);
        }

        return errors;
    }

    private sealed class Walker(IReadOnlyCollection<string> claimedPaths, List<string> errors)
    {
        public void CheckNode(IConfigurationSection section, Type type)
        {
            ConfigurationSchema.CheckNode(section, type, errors, this);
        }

        public void Unknown(IConfigurationSection child, IEnumerable<string> knownKeys)
        {
            if (claimedPaths.Contains(child.Path, StringComparer.OrdinalIgnoreCase))
            {
                return;
            }

            if (PackageSections.TryGetValue(child.Path, out var package))
            {
                errors.Add($"{child.Path} is set, but nothing uses it: call {package} on the gateway builder, or remove the section.");
                return;
            }

            var parent = child.Path[..^(child.Key.Length + 1)];
            var prefix = parent + ":";
            var known = knownKeys
                .Concat(claimedPaths.Where(p => p.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && p.IndexOf(':', prefix.Length) < 0).Select(p => p[prefix.Length..]))
                .Distinct(StringComparer.OrdinalIgnoreCase)
                .Order(StringComparer.Ordinal)
                .ToList();
            var closest = known.MinBy(k => Distance(k, child.Key));
            var hint = closest is not null && Distance(closest, child.Key) <= Math.Max(2, child.Key.Length / 3)
                ? $"did you mean {prefix}{closest}?"
                : known.Count > 0 ? $"the keys of {parent} are {string.Join(", ", known)}." : $"{parent} takes a single value, not keys.";
            errors.Add($"{child.Path} is not a known setting, so it would be ignored; {hint}");
        }
    }

    private static void CheckNode(IConfigurationSection section, Type type, List<string> errors, Walker walker)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null)
        {
            if (string.IsNullOrEmpty(section.Value))
            {
                return;
            }

            type = underlying;
        }

        if (IsFree(type))
        {
            return;
        }

        if (IsScalar(type))
        {
            if (section.Value is { } value)
            {
                CheckScalar(section.Path, value, type, errors);
            }

            foreach (var child in section.GetChildren())
            {
                walker.Unknown(child, []);
            }

            return;
        }

        if (!string.IsNullOrEmpty(section.Value))
        {
            errors.Add($"{section.Path} is '{section.Value}', but it is a section, not a single value; set its keys instead ({section.Path}:<key>).");
        }

        if (DictionaryValueType(type) is { } dictionary)
        {
            foreach (var child in section.GetChildren())
            {
                if (dictionary.Key != typeof(string) && IsScalar(dictionary.Key))
                {
                    CheckScalar(child.Path, child.Key, dictionary.Key, errors, isKey: true);
                }

                CheckNode(child, dictionary.Value, errors, walker);
            }

            return;
        }

        if (ElementType(type) is { } element)
        {
            foreach (var child in section.GetChildren())
            {
                CheckNode(child, element, errors, walker);
            }

            return;
        }

        var properties = Properties(type);
        foreach (var child in section.GetChildren())
        {
            if (properties.TryGetValue(child.Key, out var property))
            {
                CheckNode(child, property.PropertyType, errors, walker);
            }
            else
            {
                walker.Unknown(child, properties.Keys);
            }
        }
    }

    /// <summary>The bindable properties of a type by configuration key, case-insensitive like the binder.</summary>
    internal static Dictionary<string, PropertyInfo> Properties(Type type)
    {
        var properties = new Dictionary<string, PropertyInfo>(StringComparer.OrdinalIgnoreCase);
        for (var current = type; current is not null && current != typeof(object); current = current.BaseType)
        {
            foreach (var property in current.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            {
                if (property.GetMethod is { IsPublic: true } && property.GetIndexParameters().Length == 0)
                {
                    var key = property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;
                    properties.TryAdd(key, property);
                }
            }
        }

        return properties;
    }

    /// <summary>Levenshtein distance, case-insensitive.</summary>
    internal static int Distance(string a, string b)
    {
        a = a.ToUpperInvariant();
        b = b.ToUpperInvariant();
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    private static bool IsFree(Type type)
        => type == typeof(object) || typeof(IConfiguration).IsAssignableFrom(type);

    internal static bool IsScalar(Type type)
        => type == typeof(string) || type.IsEnum || TypeDescriptor.GetConverter(type).CanConvertFrom(typeof(string));

    internal static (Type Key, Type Value)? DictionaryValueType(Type type)
    {
        foreach (var candidate in type.GetInterfaces().Prepend(type))
        {
            if (candidate.IsGenericType
                && (candidate.GetGenericTypeDefinition() == typeof(IDictionary<,>) || candidate.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)))
            {
                var arguments = candidate.GetGenericArguments();
                return (arguments[0], arguments[1]);
            }
        }

        return null;
    }

    internal static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        foreach (var candidate in type.GetInterfaces().Prepend(type))
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            {
                return candidate.GetGenericArguments()[0];
            }
        }

        return typeof(IEnumerable).IsAssignableFrom(type) ? typeof(object) : null;
    }

    private static void CheckScalar(string path, string value, Type type, List<string> errors, bool isKey = false)
    {
        if (type == typeof(string))
        {
            return;
        }

        var what = isKey ? $"{path} has the key '{value}'" : $"{path} is '{value}'";
        if (type.IsEnum)
        {
            if (!IsDefinedEnumValue(type, value))
            {
                errors.Add($"{what}, which is not a valid value; use one of {string.Join(", ", Enum.GetNames(type))}.");
            }

            return;
        }

        try
        {
            // The binder's own conversion, so what passes here binds.
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException or NotSupportedException || e.InnerException is FormatException or OverflowException)
        {
            errors.Add($"{what}, which is not {Expected(type)}.");
        }
    }

    private static bool IsDefinedEnumValue(Type type, string value)
    {
        var parts = type.IsDefined(typeof(FlagsAttribute), inherit: false) ? value.Split(',') : [value];
        foreach (var part in parts)
        {
            var trimmed = part.Trim();

            // Numbers bind too; only the defined ones are accepted.
            if (!Enum.TryParse(type, trimmed, ignoreCase: true, out var parsed) || !Enum.IsDefined(type, parsed!))
            {
                return false;
            }
        }

        return true;
    }

    private static string Expected(Type type)
    {
        if (type == typeof(TimeSpan))
        {
            return "a duration; use the format [d.]hh:mm:ss, for example 00:10:00 for ten minutes or 1.00:00:00 for a day";
        }

        if (type == typeof(bool))
        {
            return "a boolean; use true or false";
        }

        if (type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte)
            || type == typeof(uint) || type == typeof(ulong) || type == typeof(ushort) || type == typeof(sbyte))
        {
            var min = Convert.ToString(type.GetField("MinValue")!.GetValue(null), CultureInfo.InvariantCulture);
            var max = Convert.ToString(type.GetField("MaxValue")!.GetValue(null), CultureInfo.InvariantCulture);
            return $"a whole number; use digits only, from {min} to {max}";
        }

        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
        {
            return "a number; use digits with an optional '.' decimal point, such as 0.5";
        }

        if (type == typeof(Uri))
        {
            return "a URI; use an absolute address such as http://host:port";
        }

        return $"a valid {type.Name}";
    }
}
