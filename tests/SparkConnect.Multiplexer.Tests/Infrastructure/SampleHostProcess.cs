using System.Diagnostics;
using System.Reflection;
using SparkConnect.Multiplexer.Testing;

namespace SparkConnect.Multiplexer.Tests.Infrastructure;

/// <summary>The real sample host, run as its own process in trial mode.</summary>
internal static class SampleHostProcess
{
    private static readonly string Dll = typeof(SampleHostProcess).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SampleHostDll").Value!;

    /// <summary>
    /// How to start the host with <paramref name="arguments"/> after the defaults: Spark Connect on a port the kernel
    /// chooses (port 0; Kestrel prints it), and no management endpoint, whose default port would clash between hosts
    /// run side by side (a test that needs one passes its own <c>--SampleHost:ManagementPort</c>, which wins).
    /// </summary>
    public static ProcessStartInfo StartInfo(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(Dll)!,
        };
        start.ArgumentList.Add(Dll);
        start.ArgumentList.Add("--SampleHost:Port=0");
        start.ArgumentList.Add("--SampleHost:ManagementPort=0");
        start.ArgumentList.Add("--SparkConnectGateway:Authentication:Mode=None");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <summary>Starts the host and waits until it says where it listens (<see cref="ServerProcess.ListeningAddresses"/>).</summary>
    public static Task<ServerProcess> StartAsync(CancellationToken cancellationToken, params string[] arguments)
        => ServerProcess.StartListeningAsync(StartInfo(arguments), "sample host", TimeSpan.FromSeconds(60), cancellationToken);

    /// <summary>Runs a host expected to stop at start-up: its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(CancellationToken cancellationToken, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(arguments))!;
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
