using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Packaging;

/// <summary>
/// This repository's packages, packed into a folder outside it under a version of their own (so the NuGet cache never
/// hands back an earlier pack), with a work directory beside them for the projects that consume them, as
/// nuget/README.md tells a user to do. Disposing deletes both and the packs' entries in the NuGet cache.
/// </summary>
internal sealed class LocalPackageFeed : IDisposable
{
    // A pack restores and builds in the repository's own obj/ folders: two at once (test classes run in parallel)
    // collide there ("project.assets.json already exists"), so packs take turns.
    private static readonly SemaphoreSlim RepositoryBuild = new(1, 1);

    private readonly string[] _packageIds;

    private LocalPackageFeed(string workDirectory, string version, string[] packageIds)
    {
        WorkDirectory = workDirectory;
        Version = version;
        _packageIds = packageIds;
    }

    /// <summary>Where the consuming projects go (the packages are in its <c>packages</c> folder).</summary>
    public string WorkDirectory { get; }

    /// <summary>The version every package of this feed has.</summary>
    public string Version { get; }

    /// <summary>Packs each <c>src/{id}/{id}.csproj</c> in Release.</summary>
    public static async Task<LocalPackageFeed> PackAsync(string purpose, IReadOnlyList<string> packageIds, CancellationToken cancellationToken)
    {
        await RepositoryBuild.WaitAsync(cancellationToken);
        try
        {
            var feed = new LocalPackageFeed(
                Directory.CreateTempSubdirectory(purpose + "-").FullName,
                $"0.0.0-{purpose}.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}",
                [.. packageIds]);
            try
            {
                foreach (var id in packageIds)
                {
                    await DotnetCli.RunAsync(feed.WorkDirectory, cancellationToken, "pack", Repository.PathOf($"src/{id}/{id}.csproj"), "-c", "Release", "-o", Path.Combine(feed.WorkDirectory, "packages"), $"-p:Version={feed.Version}");
                }

                return feed;
            }
            catch
            {
                feed.Dispose();
                throw;
            }
        }
        finally
        {
            RepositoryBuild.Release();
        }
    }

    /// <summary>Creates <paramref name="name"/> under the work directory with a nuget.config whose only source is this feed.</summary>
    /// <returns>The project directory.</returns>
    public async Task<string> CreateProjectDirectoryAsync(string name, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateDirectory(Path.Combine(WorkDirectory, name)).FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, "nuget.config"), """
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="../packages" />
              </packageSources>
            </configuration>
            """, cancellationToken);
        return directory;
    }

    public void Dispose()
    {
        ServerProcess.DeleteDirectory(WorkDirectory);
        foreach (var id in _packageIds)
        {
            ServerProcess.DeleteDirectory(Path.Combine(DotnetCli.PackageCache, id.ToLowerInvariant(), Version));
        }
    }
}
