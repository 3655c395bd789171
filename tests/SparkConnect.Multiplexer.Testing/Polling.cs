using System.Diagnostics;

namespace SparkConnect.Multiplexer.Testing;

/// <summary>
/// Waiting for a state a test cannot be told about (a watch that fired, a background check that ran, a process that
/// exited): the condition is polled until it holds or <c>timeout</c> passes. The timeout bounds a failure, never a
/// success: a test asserts the returned value, so it cannot pass because time ran out.
/// </summary>
public static class Polling
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(25);

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes.</summary>
    /// <param name="condition">The state waited for.</param>
    /// <param name="timeout">How long to wait before reporting false.</param>
    /// <param name="step">Runs between polls, e.g. to advance a fake clock.</param>
    /// <returns>Whether the condition held.</returns>
    public static Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout, Func<Task>? step = null)
        => EventuallyAsync(() => Task.FromResult(condition()), timeout, step);

    /// <inheritdoc cref="EventuallyAsync(Func{bool}, TimeSpan, Func{Task}?)"/>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<Task>? step = null)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < timeout)
        {
            if (await condition())
            {
                return true;
            }

            if (step is not null)
            {
                await step();
            }

            await Task.Delay(Interval);
        }

        return await condition();
    }
}
