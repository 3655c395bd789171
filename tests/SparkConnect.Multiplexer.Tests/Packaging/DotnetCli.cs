using System.Diagnostics;

namespace SparkConnect.Multiplexer.Tests.Packaging;

/// <summary>The <c>dotnet</c> command as a user runs it, for tests that pack packages and build projects that consume them.</summary>
internal static class DotnetCli
{
    /// <summary>Where restored packages go (a test's own pack versions are removed from here after it).</summary>
    public static string PackageCache { get; } = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>A <c>dotnet</c> start in <paramref name="directory"/>, output redirected.</summary>
    public static ProcessStartInfo StartInfo(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The test host runs under MSBuild's environment; a child build must find its own SDK, as a user's would.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("MSBUILD", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        return start;
    }

    /// <summary>Runs <c>dotnet</c> to its end and fails the test, with its output, when it does not succeed.</summary>
    /// <returns>Its standard output.</returns>
    public static async Task<string> RunAsync(string directory, CancellationToken cancellationToken, params string[] arguments)
    {
        var (exitCode, output) = await RunToEndAsync(directory, arguments, cancellationToken);
        Assert.AreEqual(0, exitCode, $"dotnet {string.Join(' ', arguments)} failed:\n{output}");
        return output;
    }

    /// <summary>Runs <c>dotnet</c> to its end; the caller judges the exit code.</summary>
    /// <returns>The exit code and the standard output followed by the standard error.</returns>
    public static async Task<(int ExitCode, string Output)> RunToEndAsync(string directory, string[] arguments, CancellationToken cancellationToken)
    {
        using var process = Process.Start(StartInfo(directory, arguments))!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, $"{await output}\n{await error}");
    }
}
