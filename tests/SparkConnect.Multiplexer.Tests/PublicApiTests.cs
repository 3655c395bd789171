using System.Reflection;

namespace SparkConnect.Multiplexer.Tests;

/// <summary>
/// Makes every change to the core package's public surface visible in review: the surface must match
/// PublicApi.approved.txt. After an intended change, copy the .received.txt written next to it over it.
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

        var approvedPath = Path.Combine(SourceDirectory(), "PublicApi.approved.txt");
        var received = string.Join('\n', lines) + "\n";
        var approved = File.Exists(approvedPath) ? File.ReadAllText(approvedPath).ReplaceLineEndings("\n") : "";
        if (approved != received)
        {
            File.WriteAllText(Path.Combine(SourceDirectory(), "PublicApi.received.txt"), received);
            Assert.Fail($"The public API changed; review {Path.Combine(SourceDirectory(), "PublicApi.received.txt")} and copy it over {approvedPath} if intended.");
        }
    }

    private static string Kind(Type type)
        => type.IsInterface ? "interface" : type.IsEnum ? "enum" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : "class";

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
