using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace SparkConnect.Multiplexer.TestKit;

/// <summary>
/// What every <see cref="ISessionStore"/> must do: the first claim of an id wins (also under concurrency), activity
/// only moves forward, a removed session stays removed, and listing returns every session as stored. A store's test
/// project derives a <c>[TestClass]</c> from this class and supplies a fresh, empty store per call of
/// <see cref="CreateStore"/> (the in-memory store in the core tests and the Redis store in the Redis tests do).
/// </summary>
public abstract class SessionStoreConformanceTests
{
    /// <summary>Set by MSTest; its cancellation token ends a test that is being aborted.</summary>
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    /// <summary>
    /// Returns a store that holds no session yet, isolated from the stores of other tests (for a shared server, use a
    /// key prefix of its own). Dispose it in a <c>[TestCleanup]</c> of the derived class.
    /// </summary>
    /// <returns>The store under test.</returns>
    protected abstract ISessionStore CreateStore();

    /// <summary>A claim of an unknown id stores the candidate and returns it as new.</summary>
    [TestMethod]
    public async Task ClaimAsync_NewId_StoresTheCandidate()
    {
        var store = CreateStore();
        var candidate = Session("alice");

        var claim = await store.ClaimAsync(candidate, Cancel);

        Assert.IsTrue(claim.IsNew);
        Assert.AreEqual(candidate, claim.Session);
        Assert.AreEqual(candidate, await store.GetAsync(candidate.SessionId, Cancel));
    }

    /// <summary>A claim of a known id changes nothing and returns the stored session.</summary>
    [TestMethod]
    public async Task ClaimAsync_ExistingId_KeepsTheFirstOwner()
    {
        var store = CreateStore();
        var first = Session("alice");
        await store.ClaimAsync(first, Cancel);

        var second = await store.ClaimAsync(first with { Owner = "bob", EngineId = "other" }, Cancel);

        Assert.IsFalse(second.IsNew);
        Assert.AreEqual("alice", second.Session.Owner);
        Assert.AreEqual(first.EngineId, second.Session.EngineId);
    }

    /// <summary>Of concurrent claims of one id, exactly one is new and all return the same session.</summary>
    [TestMethod]
    public async Task ClaimAsync_Concurrent_ExactlyOneWins()
    {
        var store = CreateStore();
        var id = Guid.NewGuid().ToString();
        var claims = await Task.WhenAll(Enumerable.Range(0, 32).Select(i =>
            Task.Run(async () => await store.ClaimAsync(Session("user" + i) with { SessionId = id }, Cancel), Cancel)));

        Assert.AreEqual(1, claims.Count(c => c.IsNew));
        Assert.AreEqual(1, claims.Select(c => c.Session.Owner).Distinct().Count());
    }

    /// <summary>A touch moves the last activity forward, never back; touching an unknown id is a no-op.</summary>
    [TestMethod]
    public async Task TouchAsync_MovesLastActivityForwardOnly()
    {
        var store = CreateStore();
        var session = Session("alice");
        await store.ClaimAsync(session, Cancel);

        await store.TouchAsync(session.SessionId, session.LastActivity.AddMinutes(5), Cancel);
        await store.TouchAsync(session.SessionId, session.LastActivity.AddMinutes(1), Cancel);
        await store.TouchAsync(Guid.NewGuid().ToString(), DateTimeOffset.UtcNow, Cancel);

        Assert.AreEqual(session.LastActivity.AddMinutes(5), (await store.GetAsync(session.SessionId, Cancel))!.LastActivity);
    }

    /// <summary>A removal returns the removed session once and leaves the others.</summary>
    [TestMethod]
    public async Task RemoveAsync_ForgetsOnlyThatSession()
    {
        var store = CreateStore();
        var kept = Session("alice");
        var removed = Session("alice");
        await store.ClaimAsync(kept, Cancel);
        await store.ClaimAsync(removed, Cancel);

        Assert.AreEqual(removed, await store.RemoveAsync(removed.SessionId, Cancel), "the removed session is returned");
        Assert.IsNull(await store.RemoveAsync(removed.SessionId, Cancel));

        Assert.IsNull(await store.GetAsync(removed.SessionId, Cancel));
        var listed = await store.ListAsync(Cancel).ToListAsync(Cancel);
        Assert.AreEqual(kept.SessionId, listed.Single().SessionId);
    }

    /// <summary>An unknown id reads as null.</summary>
    [TestMethod]
    public async Task GetAsync_UnknownId_IsNull()
        => Assert.IsNull(await CreateStore().GetAsync(Guid.NewGuid().ToString(), Cancel));

    /// <summary>A touch racing a removal does not bring the session back; the id can be claimed afresh.</summary>
    [TestMethod]
    public async Task TouchAsync_AfterRemove_DoesNotBringTheSessionBack()
    {
        var store = CreateStore();
        var session = Session("alice");
        await store.ClaimAsync(session, Cancel);
        await store.RemoveAsync(session.SessionId, Cancel);

        await store.TouchAsync(session.SessionId, session.LastActivity.AddMinutes(1), Cancel);

        Assert.IsNull(await store.GetAsync(session.SessionId, Cancel));
        Assert.IsTrue((await store.ClaimAsync(session with { Owner = "bob" }, Cancel)).IsNew, "a removed id can be claimed afresh");
    }

    /// <summary>Listing returns every session (more than one page of a paged store) with its latest activity.</summary>
    [TestMethod]
    public async Task ListAsync_ReturnsEverySession_WithItsLastActivity()
    {
        var store = CreateStore();
        var sessions = Enumerable.Range(0, 600).Select(i => Session("user" + (i % 7))).ToList();
        foreach (var session in sessions)
        {
            await store.ClaimAsync(session, Cancel);
        }

        await store.TouchAsync(sessions[42].SessionId, sessions[42].LastActivity.AddHours(1), Cancel);

        var listed = (await store.ListAsync(Cancel).ToListAsync(Cancel)).ToDictionary(s => s.SessionId);
        Assert.HasCount(sessions.Count, listed);
        foreach (var session in sessions)
        {
            var expected = session == sessions[42] ? session with { LastActivity = session.LastActivity.AddHours(1) } : session;
            Assert.AreEqual(expected, listed[session.SessionId]);
        }
    }

    private static SessionRecord Session(string owner)
    {
        var now = new DateTimeOffset(2026, 11, 24, 8, 0, 0, TimeSpan.Zero);
        return new SessionRecord { SessionId = Guid.NewGuid().ToString(), Owner = owner, EngineKey = new EngineKey { ShareLevel = ShareLevel.User, Owner = owner }, EngineId = "engine-1", EngineAddress = new Uri("http://127.0.0.1:15003"), CreatedAt = now, LastActivity = now, ClientAddress = "192.0.2.7" };
    }
}
