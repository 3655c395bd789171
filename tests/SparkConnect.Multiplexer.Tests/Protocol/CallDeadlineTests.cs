using Microsoft.AspNetCore.Http;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Tests.Protocol;

[TestClass]
public sealed class CallDeadlineTests
{
    [TestMethod]
    [DataRow("100m", 100.0)]
    [DataRow("5S", 5000.0)]
    [DataRow("2M", 120000.0)]
    [DataRow("1H", 3600000.0)]
    [DataRow("2500u", 2.5)]
    [DataRow("3000000n", 3.0)]
    public void TryParseTimeout_ValidUnits_Parse(string header, double milliseconds)
    {
        Assert.IsTrue(CallDeadline.TryParseTimeout(header, out var timeout));
        Assert.AreEqual(milliseconds, timeout.TotalMilliseconds, 0.001);
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("5")]
    [DataRow("123456789S")]
    [DataRow("5s")]
    [DataRow("-5S")]
    public void TryParseTimeout_Invalid_IsRejected(string header)
        => Assert.IsFalse(CallDeadline.TryParseTimeout(header, out _));

    [TestMethod]
    public async Task FirstMessagePhase_RunningOut_CancelsTheCallAsAFirstMessageTimeout_NotAsTheDeadline()
    {
        using var deadline = CallDeadline.Start(Call("1H"), TimeProvider.System, CancellationToken.None);
        deadline.StartFirstMessagePhase(TimeSpan.FromMilliseconds(1));
        await Assert.ThrowsAsync<TaskCanceledException>(() => Task.Delay(Timeout.Infinite, deadline.Token));

        Assert.IsTrue(deadline.FirstMessageTimedOut);
        Assert.IsFalse(deadline.IsExpired);
        deadline.EndFirstMessagePhase();
        Assert.IsTrue(deadline.FirstMessageTimedOut, "a phase that ran out stays the reason the call ended");
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow("1H")]
    public void FirstMessagePhase_Ended_LeavesTheCallToItsDeadline(string? timeout)
    {
        using var deadline = CallDeadline.Start(Call(timeout), TimeProvider.System, CancellationToken.None);
        deadline.StartFirstMessagePhase(TimeSpan.FromMinutes(30));
        deadline.EndFirstMessagePhase();

        Assert.IsFalse(deadline.Token.IsCancellationRequested);
        Assert.IsFalse(deadline.FirstMessageTimedOut);
        Assert.AreEqual(timeout is not null, deadline.HasDeadline);
    }

    [TestMethod]
    public async Task FirstMessagePhase_LongerThanTheDeadline_LeavesTheDeadlineInCharge()
    {
        using var deadline = CallDeadline.Start(Call("1m"), TimeProvider.System, CancellationToken.None);
        deadline.StartFirstMessagePhase(TimeSpan.FromMinutes(30));
        await Assert.ThrowsAsync<TaskCanceledException>(() => Task.Delay(Timeout.Infinite, deadline.Token));

        Assert.IsTrue(deadline.IsExpired);
        Assert.IsFalse(deadline.FirstMessageTimedOut);
    }

    private static DefaultHttpContext Call(string? timeout)
    {
        var context = new DefaultHttpContext();
        if (timeout is not null)
        {
            context.Request.Headers[CallDeadline.TimeoutHeader] = timeout;
        }

        return context;
    }
}
