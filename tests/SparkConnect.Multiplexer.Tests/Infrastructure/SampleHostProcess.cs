using System.Diagnostics;
using System.Reflection;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Infrastructure;

/// <summary>The real sample host, run as its own process in trial mode, on a port of the test's choosing.</summary>
internal static class SampleHostProcess
{
    private static readonly string Dll = typeof(SampleHostProcess).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SampleHostDll").Value!;

    /// <summary>How to start the host on <paramref name="port"/> with <paramref name="arguments"/> after the defaults.</summary>
    public static ProcessStartInfo StartInfo(int port, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(Dll)!,
        };
        start.ArgumentList.Add(Dll);
        start.ArgumentList.Add($"--SampleHost:Port={port}");

        // Never the default management port: tests run hosts side by side (a test that needs it passes its own).
        start.ArgumentList.Add($"--SampleHost:ManagementPort={FreePort.Pick()}");
        start.ArgumentList.Add("--SparkConnectGateway:Authentication:Mode=None");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <summary>Runs a host expected to stop at start-up: its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(CancellationToken cancellationToken, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(FreePort.Pick(), arguments))!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = await process.StandardError.ReadToEndAsync(timeout.Token) + await output;
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, error);
        }
        catch (OperationCanceledException)
        {
            // A host that starts despite the mistake.
            process.Kill(entireProcessTree: true);
            throw;
        }
    }
}
