using DuckDB.NET.Data;
using SparkConnect.Multiplexer.LocalEngine.Execution;
using SparkConnect.Multiplexer.LocalEngine.Sessions;

namespace SparkConnect.Multiplexer.LocalEngine.Service;

/// <summary>Everything one engine owns: its DuckDB database (root connection), sessions and options.</summary>
internal sealed class EngineState : IAsyncDisposable
{
    private readonly DuckDBConnection _root;

    /// <summary>Set when the engine made its own data directory (none configured): it goes when the engine stops.</summary>
    private readonly bool _ownsDataDirectory;

    public EngineState(LocalEngineOptions options, string? dataDirectory = null)
    {
        Options = options;
        var chosen = dataDirectory ?? (options.DataDirectory is { } configured ? Path.GetFullPath(configured) : null);
        if (chosen is null)
        {
            // Without a configured directory each engine gets a private one that lives as long as it does, like
            // its in-memory database: DataFrame readers and writers work, and no engine sees another's files.
            chosen = Directory.CreateTempSubdirectory("spark-local-engine-").FullName;
            _ownsDataDirectory = true;
        }

        DataDirectory = chosen;
        Files = new DataFiles(DataDirectory);
        var source = options.DatabasePath ?? ":memory:";
        _root = new DuckDBConnection($"Data Source={source}");
        _root.Open();
        try
        {
            Sandbox.Apply(_root, DataDirectory);
        }
        catch
        {
            _root.Dispose();
            DeleteOwnDataDirectory();
            throw;
        }

        Sessions = new SessionManager(_root, options);
        Runner = new QueryRunner(options);
        VersionString = $"{options.SparkVersion} ({options.EngineName}, DuckDB {_root.ServerVersion})";
    }

    public LocalEngineOptions Options { get; }

    /// <summary>The only directory users' SQL and DataFrame readers and writers may touch.</summary>
    public string DataDirectory { get; }

    /// <summary>The data directory as DataFrame readers and writers resolve paths in it.</summary>
    public DataFiles Files { get; }

    public SessionManager Sessions { get; }

    public QueryRunner Runner { get; }

    /// <summary>What AnalyzePlan spark_version reports: a Spark version first, so clients parse it, then the engine.</summary>
    public string VersionString { get; }

    public string DatabaseDescription => Options.DatabasePath ?? "in-memory";

    public async ValueTask DisposeAsync()
    {
        await Sessions.DisposeAsync().ConfigureAwait(false);
        await _root.DisposeAsync().ConfigureAwait(false);
        DeleteOwnDataDirectory();
    }

    private void DeleteOwnDataDirectory()
    {
        if (_ownsDataDirectory)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A file still open elsewhere: the system's temporary directory cleanup takes it later.
            }
            catch (UnauthorizedAccessException)
            {
                // As above.
            }
        }
    }
}
