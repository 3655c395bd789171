using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Tests.Packaging;

namespace SparkConnect.Multiplexer.Tests.Diagnostics;

/// <summary>
/// Event ids are how operators filter and alert on log lines across packages: each shipped package owns the range that
/// docs/logging.md gives it, and no id means two things.
/// </summary>
[TestClass]
public sealed partial class LogEventIdTests
{
    [TestMethod]
    public void LoggerMessages_EveryShippedPackage_IdsUniqueAndInsideThePackagesDocumentedRange()
    {
        var ranges = DocumentedRanges();
        var shipped = Directory.GetDirectories(Repository.PathOf("src"))
            .Where(d => File.Exists(Path.Combine(d, Path.GetFileName(d) + ".csproj")))
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.IsNotEmpty(shipped);

        var problems = new List<string>();
        var owners = new Dictionary<int, List<string>>();
        foreach (var package in shipped)
        {
            if (!ranges.TryGetValue(package!, out var range))
            {
                problems.Add($"{package} has no event id range in docs/logging.md: give it one");
                continue;
            }

            foreach (var (method, id) in LoggerMessages(Load(package!)))
            {
                var where = $"{package}: {method}";
                if (id < range.First || id > range.Last)
                {
                    problems.Add($"{where} has event id {id}, outside {package}'s range {range.First}-{range.Last}");
                }

                if (!owners.TryGetValue(id, out var list))
                {
                    owners[id] = list = [];
                }

                list.Add(where);
            }
        }

        problems.AddRange(owners.Where(o => o.Value.Count > 1).Select(o => $"event id {o.Key} is used by {string.Join(" and ", o.Value)}"));
        Assert.IsEmpty(problems, string.Join(Environment.NewLine, problems));
        Assert.IsGreaterThan(100, owners.Count, "the reflection found the log messages");
    }

    [TestMethod]
    public void DocumentedRanges_DoNotOverlap()
    {
        var ranges = DocumentedRanges().OrderBy(r => r.Value.First).ToList();
        for (var i = 1; i < ranges.Count; i++)
        {
            Assert.IsGreaterThan(ranges[i - 1].Value.Last, ranges[i].Value.First, $"{ranges[i - 1].Key} and {ranges[i].Key} overlap");
        }
    }

    /// <summary>The package table of docs/logging.md: <c>| `Package` | first–last | ... |</c>.</summary>
    private static Dictionary<string, (int First, int Last)> DocumentedRanges()
    {
        var ranges = new Dictionary<string, (int First, int Last)>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Repository.PathOf("docs/logging.md")))
        {
            if (RangeRow().Match(line) is { Success: true } row)
            {
                ranges.Add(row.Groups[1].Value, (int.Parse(row.Groups[2].Value, CultureInfo.InvariantCulture), int.Parse(row.Groups[3].Value, CultureInfo.InvariantCulture)));
            }
        }

        Assert.IsNotEmpty(ranges, "docs/logging.md has no package table");
        return ranges;
    }

    private static Assembly Load(string package)
    {
        try
        {
            return Assembly.Load(new AssemblyName(package));
        }
        catch (FileNotFoundException)
        {
            Assert.Fail($"{package} is not referenced by the tests project: add a ProjectReference so its event ids are checked");
            throw;
        }
    }

    private static IEnumerable<(string Method, int Id)> LoggerMessages(Assembly assembly)
    {
        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (var type in assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(All))
            {
                if (method.GetCustomAttribute<LoggerMessageAttribute>() is { } message)
                {
                    Assert.IsGreaterThanOrEqualTo(0, message.EventId, $"{type.FullName}.{method.Name} has no explicit event id");
                    yield return ($"{type.FullName}.{method.Name}", message.EventId);
                }
            }
        }
    }

    [GeneratedRegex(@"^\|\s*`(SparkConnect\.Multiplexer[\w.]*)`\s*\|\s*(\d+)\s*[-–]\s*(\d+)\s*\|")]
    private static partial Regex RangeRow();
}
