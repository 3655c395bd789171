using System.Reflection;

namespace SparkConnect.Multiplexer.Tests.Packaging;

/// <summary>
/// Every shipped package carries PublicAPI.Shipped.txt and PublicAPI.Unshipped.txt, which the public API analyzer
/// (wired in Directory.Build.targets) compares with the code at each build. These tests make sure no package slips
/// out of that check: a new package without the files, or a package where the analyzer is not running (its files
/// would then not name its public types).
/// </summary>
[TestClass]
public sealed class PublicApiBaselineTests
{
    private const string NullableHeader = "#nullable enable";

    public static IEnumerable<object[]> Packages()
        => Directory.GetFiles(Repository.PathOf("src"), "*.csproj", SearchOption.AllDirectories)
            .Select(project => new object[] { Path.GetFileNameWithoutExtension(project) })
            .OrderBy(name => (string)name[0], StringComparer.Ordinal);

    [TestMethod]
    [DynamicData(nameof(Packages))]
    public void Package_HasBothBaselineFiles_WithNullableAnnotations(string package)
    {
        foreach (var file in new[] { "PublicAPI.Shipped.txt", "PublicAPI.Unshipped.txt" })
        {
            var path = Repository.PathOf(Path.Combine("src", package, file));
            Assert.IsTrue(File.Exists(path), $"{path} is missing: every package needs it; create it with the single line '{NullableHeader}', then run ./build.sh api.");
            Assert.AreEqual(NullableHeader, File.ReadLines(path).FirstOrDefault(), $"{path} must start with '{NullableHeader}' so the baseline records nullability.");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Packages))]
    public void Baseline_NamesEveryPublicTypeOfThePackage(string package)
    {
        var assemblyPath = Path.Combine(AppContext.BaseDirectory, package + ".dll");
        Assert.IsTrue(File.Exists(assemblyPath), $"{package}.dll is not in the test output: reference src/{package} from this test project so its baseline is checked.");

        var entries = BaselineEntries(package);
        var missing = Assembly.LoadFrom(assemblyPath).GetExportedTypes()
            .Select(BaselineName)
            .Where(name => !entries.Contains(name))
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.IsEmpty(missing, $"src/{package}'s PublicAPI files do not name: {string.Join(", ", missing)}. Is the public API analyzer running for it (Directory.Build.targets)? Run ./build.sh api after an intended change.");
    }

    /// <summary>The analyzer writes a type on a line of its own: <c>Namespace.Outer.Inner&lt;T&gt;</c> (with its modifiers first).</summary>
    private static HashSet<string> BaselineEntries(string package)
        => new[] { "Shipped", "Unshipped" }
            .SelectMany(kind => File.ReadLines(Repository.PathOf(Path.Combine("src", package, $"PublicAPI.{kind}.txt"))))
            .Select(line => line.Split(" -> ")[0].Split('(')[0].Split(' ')[^1])
            .Select(name => name.Contains('<', StringComparison.Ordinal) ? name[..name.IndexOf('<', StringComparison.Ordinal)] : name)
            .ToHashSet(StringComparer.Ordinal);

    private static string BaselineName(Type type)
    {
        var name = type.FullName!.Replace('+', '.');
        var tick = name.IndexOf('`', StringComparison.Ordinal);
        return tick < 0 ? name : name[..tick];
    }
}
