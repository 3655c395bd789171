using System.Diagnostics;

namespace SparkConnect.Multiplexer.Testing;

/// <summary>
/// Engine processes a test launched, found by their working directory under the test's own temp root — so a test
/// cleans up even the processes its gateway lost track of, and never touches anything else.
/// </summary>
public static class EngineProcesses
{
    /// <summary>The ids of the processes whose working directory is under <paramref name="root"/> (Linux /proc).</summary>
    public static IReadOnlyList<int> Under(string root)
    {
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var processId))
            {
                continue;
            }

            try
            {
                if (new DirectoryInfo(Path.Combine(directory, "cwd")).LinkTarget is { } cwd
                    && cwd.StartsWith(root, StringComparison.Ordinal))
                {
                    found.Add(processId);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone, or not ours to look at.
            }
        }

        return found;
    }

    /// <summary>Kills every process (with its tree) under <paramref name="root"/>.</summary>
    public static void KillAllUnder(string root)
    {
        foreach (var processId in Under(root))
        {
            try
            {
                using var process = Process.GetProcessById(processId);
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
        }
    }
}
