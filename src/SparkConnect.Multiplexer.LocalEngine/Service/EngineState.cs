using DuckDB.NET.Data;
using SparkConnect.Multiplexer.LocalEngine.Execution;
using SparkConnect.Multiplexer.LocalEngine.Sessions;

namespace SparkConnect.Multiplexer.LocalEngine.Service;

/// <summary>Everything one engine owns: its DuckDB database (root connection), sessions and options.</summary>
internal sealed class EngineState : IAsyncDisposable
{
    private readonly DuckDBConnection _root;

    public EngineState(LocalEngineOptions options, string? dataDirectory = null)
    {
        Options = options;
        DataDirectory = dataDirectory ?? (options.DataDirectory is { } configured ? Path.GetFullPath(configured) : null);
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
            throw;
        }

        Sessions = new SessionManager(_root, options);
        Runner = new QueryRunner(options);
        VersionString = $"{options.SparkVersion} ({options.EngineName}, DuckDB {_root.ServerVersion})";
    }

    public LocalEngineOptions Options { get; }

    /// <summary>The only directory users' SQL may read or write files in, or <see langword="null"/> for none.</summary>
    public string? DataDirectory { get; }

    public SessionManager Sessions { get; }

    public QueryRunner Runner { get; }

    /// <summary>What AnalyzePlan spark_version reports: a Spark version first, so clients parse it, then the engine.</summary>
    public string VersionString { get; }

    public string DatabaseDescription => Options.DatabasePath ?? "in-memory";

    public async ValueTask DisposeAsync()
    {
        await Sessions.DisposeAsync().ConfigureAwait(false);
        await _root.DisposeAsync().ConfigureAwait(false);
    }
}
