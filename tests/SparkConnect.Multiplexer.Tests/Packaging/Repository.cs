using System.Reflection;

namespace SparkConnect.Multiplexer.Tests.Packaging;

/// <summary>The repository the tests were built from (recorded at build time: CI builds map source paths to /_/).</summary>
internal static class Repository
{
    public static string Root { get; } = typeof(Repository).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;

    public static string PathOf(string relative) => Path.Combine(Root, relative);
}
