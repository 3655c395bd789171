using System.Reflection;

namespace SparkConnect.Multiplexer.Tests;

/// <summary>
/// Makes every change to the core package's public surface visible in review: the surface must match
/// PublicApi.approved.txt. After an intended change, copy the PublicApi.received.txt written next to the test
/// binary over tests/SparkConnect.Multiplexer.Tests/PublicApi.approved.txt.
/// </summary>
[TestClass]
public sealed class PublicApiTests
{
    [TestMethod]
    public void PublicSurface_MatchesTheApprovedList()
    {
        var assembly = typeof(IAuthenticator).Assembly;
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            lines.Add($"{Kind(type)} {type.FullName}");
            var members = type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(m => m is not MethodInfo { IsSpecialName: true })
                .Select(m => "  " + m.ToString())
                .OrderBy(m => m, StringComparer.Ordinal);
            lines.AddRange(members);
        }

        var approvedPath = Path.Combine(AppContext.BaseDirectory, "PublicApi.approved.txt");
        Assert.IsTrue(File.Exists(approvedPath), $"{approvedPath} is missing; the test project copies PublicApi.approved.txt to its output.");
        var received = string.Join('\n', lines) + "\n";
        var approved = File.ReadAllText(approvedPath).ReplaceLineEndings("\n");
        if (approved != received)
        {
            var receivedPath = Path.Combine(AppContext.BaseDirectory, "PublicApi.received.txt");
            File.WriteAllText(receivedPath, received);
            Assert.Fail($"The public API changed; review {receivedPath} and copy it over tests/SparkConnect.Multiplexer.Tests/PublicApi.approved.txt if intended.");
        }
    }

    private static string Kind(Type type)
        => type.IsInterface ? "interface" : type.IsEnum ? "enum" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : "class";
}
