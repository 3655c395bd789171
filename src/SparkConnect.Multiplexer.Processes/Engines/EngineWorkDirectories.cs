using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SparkConnect.Multiplexer.Processes.Engines;

/// <summary>
/// What a launched engine's working directory says about it (<c>engine.json</c>): which process it is and which
/// gateway process launched it, so a gateway that starts after another died (killed with -9, the machine's OOM killer)
/// can recognise the engines left running, adopt those still in use and stop the others, and old directories can be
/// deleted. Where it listens and its key (absent in files of older versions) let a later gateway serve it again;
/// <see cref="HandedOver"/> says the gateway that launched it left it running for others when it stopped.
/// </summary>
internal sealed record EngineDirectoryState(
    string EngineId,
    int ProcessId,
    DateTimeOffset ProcessStartedAt,
    int GatewayProcessId,
    DateTimeOffset GatewayStartedAt,
    string? Address = null,
    ShareLevel? ShareLevel = null,
    string? Owner = null,
    string? Subdomain = null,
    string? LaunchedBy = null,
    bool HandedOver = false)
{
    /// <summary>The engine key, when the file names it.</summary>
    public EngineKey? Key => ShareLevel is { } level && Owner is { } owner && Subdomain is { } subdomain ? new EngineKey { ShareLevel = level, Owner = owner, Subdomain = subdomain } : null;
}

[JsonSerializable(typeof(EngineDirectoryState))]
internal sealed partial class EngineDirectoryStateContext : JsonSerializerContext;

/// <summary>Reads and writes engine working directories: their state file, orphans, retention.</summary>
internal static class EngineWorkDirectories
{
    public const string StateFileName = "engine.json";

    /// <summary>Process start times are read back with some rounding; closer than this is the same process.</summary>
    private static readonly TimeSpan SameStart = TimeSpan.FromSeconds(2);

    /// <summary>Writes the state file of an engine just started.</summary>
    public static void WriteState(string workDirectory, string engineId, int processId, EngineKey key, Uri address, string launchedBy)
    {
        var state = new EngineDirectoryState(
            engineId,
            processId,
            StartTimeOf(processId) ?? DateTimeOffset.UtcNow,
            Environment.ProcessId,
            StartTimeOf(Environment.ProcessId) ?? DateTimeOffset.UtcNow,
            address.ToString(),
            key.ShareLevel,
            key.Owner,
            key.Subdomain,
            launchedBy);
        Write(workDirectory, state);
    }

    /// <summary>Says in the state file that the launching gateway left the engine running for another to adopt.</summary>
    public static void MarkHandedOver(string workDirectory)
    {
        if (ReadState(workDirectory) is { } state)
        {
            Write(workDirectory, state with { HandedOver = true });
        }
    }

    /// <summary>Makes this gateway the engine's owner (after adopting it): a later gateway sees it as this one's.</summary>
    public static void MarkAdopted(string workDirectory, EngineDirectoryState state)
        => Write(workDirectory, state with { GatewayProcessId = Environment.ProcessId, GatewayStartedAt = StartTimeOf(Environment.ProcessId) ?? DateTimeOffset.UtcNow, HandedOver = false });

    /// <summary>Replaces the file whole (written beside it, then moved), so a reader never sees half of it.</summary>
    private static void Write(string workDirectory, EngineDirectoryState state)
    {
        var path = Path.Combine(workDirectory, StateFileName);
        var written = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        File.WriteAllText(written, JsonSerializer.Serialize(state, EngineDirectoryStateContext.Default.EngineDirectoryState));
        File.Move(written, path, overwrite: true);
    }

    /// <summary>The state of the directory, or null when it has none (or it cannot be read).</summary>
    public static EngineDirectoryState? ReadState(string workDirectory)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(workDirectory, StateFileName)), EngineDirectoryStateContext.Default.EngineDirectoryState);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The engine processes under <paramref name="root"/> still running although the gateway that launched them is gone
    /// or handed them over when it stopped: their directory names the process and the gateway, with start times against
    /// reused ids.
    /// </summary>
    public static List<(string Directory, EngineDirectoryState State)> FindOrphans(string root)
    {
        var orphans = new List<(string, EngineDirectoryState)>();
        foreach (var directory in Subdirectories(root))
        {
            // A gateway still running (this one, or another sharing the root) looks after its own engines.
            if (ReadState(directory) is { } state && (state.HandedOver || !IsRunning(state.GatewayProcessId, state.GatewayStartedAt)) && IsRunning(state.ProcessId, state.ProcessStartedAt))
            {
                orphans.Add((directory, state));
            }
        }

        return orphans;
    }

    /// <summary>
    /// Deletes the working directories under <paramref name="root"/> untouched for <paramref name="retention"/> whose
    /// engine no longer runs; <paramref name="keep"/> are never deleted. Returns how many went.
    /// </summary>
    public static int DeleteExpired(string root, TimeSpan retention, DateTimeOffset now, IReadOnlySet<string> keep)
    {
        var deleted = 0;
        foreach (var directory in Subdirectories(root))
        {
            if (keep.Contains(Path.GetFullPath(directory)) || ReadState(directory) is { } state && IsRunning(state.ProcessId, state.ProcessStartedAt))
            {
                continue;
            }

            var log = Path.Combine(directory, EngineProcess.LogFileName);
            var touched = File.Exists(log) ? File.GetLastWriteTimeUtc(log) : Directory.GetLastWriteTimeUtc(directory);
            if (now - new DateTimeOffset(touched, TimeSpan.Zero) < retention)
            {
                continue;
            }

            try
            {
                Directory.Delete(directory, recursive: true);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Tried again at the next check.
            }
        }

        return deleted;
    }

    /// <summary>SIGTERM, up to <paramref name="gracePeriod"/>, then the process and its children are killed.</summary>
    public static async Task<bool> StopAsync(EngineDirectoryState state, TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        using var process = Open(state.ProcessId, state.ProcessStartedAt);
        if (process is null)
        {
            return true;
        }

        if (gracePeriod > TimeSpan.Zero && !OperatingSystem.IsWindows() && EngineProcess.Signal(process.Id, EngineProcess.SigTerm))
        {
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            grace.CancelAfter(gracePeriod);
            try
            {
                await process.WaitForExitAsync(grace.Token);
                return true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }
        }

        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // Already gone.
        }

        return false;
    }

    private static string[] Subdirectories(string root)
    {
        try
        {
            return Directory.Exists(root) ? Directory.GetDirectories(root) : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Whether the process with that id and start time still runs.</summary>
    public static bool IsRunning(int processId, DateTimeOffset startedAt)
    {
        using var process = Open(processId, startedAt);
        return process is not null;
    }

    /// <summary>The process with that id and start time, or null (gone, or the id now names another process).</summary>
    private static Process? Open(int processId, DateTimeOffset startedAt)
    {
        Process? process = null;
        try
        {
            process = Process.GetProcessById(processId);
            if (!process.HasExited && (StartTimeOf(process) is not { } start || (start - startedAt).Duration() <= SameStart))
            {
                var found = process;
                process = null;
                return found;
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or Win32Exception)
        {
        }
        finally
        {
            process?.Dispose();
        }

        return null;
    }

    private static DateTimeOffset? StartTimeOf(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return StartTimeOf(process);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    private static DateTimeOffset? StartTimeOf(Process process)
    {
        try
        {
            return new DateTimeOffset(process.StartTime.ToUniversalTime(), TimeSpan.Zero);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            return null;
        }
    }
}
