using System.Reflection;
using System.Xml.Linq;
using SparkConnect.Multiplexer.TestKit;

namespace SparkConnect.Multiplexer.Tests.Packaging;

/// <summary>
/// What a third party writing its own session store does: pack the core and the TestKit, make an MSTest project
/// outside this repository that references the TestKit package from a local folder, derive a class from the session
/// store suite for its store, and run <c>dotnet test</c>. Two stores: a correct one, whose suite passes whole, and one
/// whose claims let the last writer win, which the suite must catch — so the packed kit is shown to run and to judge.
/// </summary>
[TestClass]
public sealed class TestKitConsumerTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task NewTestProject_RunsThePackedSessionStoreSuite_AndItCatchesABrokenStore()
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        limit.CancelAfter(TimeSpan.FromMinutes(10));
        var cancel = limit.Token;

        using var feed = await LocalPackageFeed.PackAsync("testkit-consumer", ["SparkConnect.Multiplexer", "SparkConnect.Multiplexer.TestKit"], cancel);
        var version = feed.Version;
        var project = await feed.CreateProjectDirectoryAsync("ThirdPartyStore.Tests", cancel);
        var msTest = typeof(TestClassAttribute).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
        await File.WriteAllTextAsync(Path.Combine(project, "ThirdPartyStore.Tests.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="MSTest" Version="{msTest}" />
                <PackageReference Include="SparkConnect.Multiplexer.TestKit" Version="{version}" />
              </ItemGroup>
            </Project>
            """, cancel);
        await File.WriteAllTextAsync(Path.Combine(project, "DictionaryStoreTests.cs"), ThirdPartyCode, cancel);

        var results = Path.Combine(feed.WorkDirectory, "results");
        var exit = await DotnetCli.RunToEndAsync(project, ["test", "--logger", "trx;LogFileName=results.trx", "--results-directory", results], cancel);

        // A TRX names an inherited test by its method only; its definition says which class ran it.
        var trx = XDocument.Load(Path.Combine(results, "results.trx"));
        var classOf = trx.Descendants().Where(e => e.Name.LocalName == "UnitTest").ToDictionary(
            e => (string)e.Attribute("id")!,
            e => (string)e.Elements().Single(m => m.Name.LocalName == "TestMethod").Attribute("className")!);
        var outcomes = trx.Descendants().Where(e => e.Name.LocalName == "UnitTestResult")
            .Select(e => (Class: classOf[(string)e.Attribute("testId")!], Test: (string)e.Attribute("testName")!, Outcome: (string)e.Attribute("outcome")!))
            .ToList();
        var suiteSize = typeof(SessionStoreConformanceTests).GetMethods().Count(m => m.GetCustomAttribute<TestMethodAttribute>() is not null);

        var correct = outcomes.Where(o => o.Class.EndsWith(".DictionaryStoreConformanceTests", StringComparison.Ordinal)).ToList();
        var broken = outcomes.Where(o => o.Class.EndsWith(".LastWriterWinsStoreConformanceTests", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(suiteSize, correct.Count, $"each store should run the whole suite ({suiteSize} tests):\n{Describe(outcomes)}\n{exit.Output}");
        Assert.AreEqual(suiteSize, broken.Count, $"the broken store's class should run the whole suite:\n{Describe(outcomes)}");
        Assert.IsTrue(correct.All(o => o.Outcome == "Passed"), $"the correct store failed the suite:\n{Describe(correct)}\n{exit.Output}");
        Assert.IsTrue(broken.Any(o => o.Outcome == "Failed" && o.Test.Contains("Claim", StringComparison.Ordinal)), $"the suite did not catch a store whose claims let the last writer win:\n{Describe(broken)}");
        Assert.AreNotEqual(0, exit.ExitCode, "dotnet test should fail when a conformance test fails");
    }

    private static string Describe(IEnumerable<(string Class, string Test, string Outcome)> outcomes)
        => string.Join('\n', outcomes.Select(o => $"  {o.Outcome}: {o.Class}.{o.Test}"));

    /// <summary>The third party's code: its store, and one test class per store deriving from the kit's suite.</summary>
    private const string ThirdPartyCode = """
        using System.Collections.Concurrent;
        using System.Runtime.CompilerServices;
        using SparkConnect.Multiplexer;
        using SparkConnect.Multiplexer.TestKit;

        namespace ThirdPartyStore.Tests;

        public sealed class DictionaryStore(bool lastWriterWins) : ISessionStore
        {
            private readonly ConcurrentDictionary<string, SessionRecord> _sessions = new();

            public ValueTask<SessionClaim> ClaimAsync(SessionRecord candidate, CancellationToken cancellationToken)
            {
                if (lastWriterWins)
                {
                    _sessions[candidate.SessionId] = candidate;
                    return ValueTask.FromResult(new SessionClaim(candidate, IsNew: true));
                }

                var stored = _sessions.GetOrAdd(candidate.SessionId, candidate);
                return ValueTask.FromResult(new SessionClaim(stored, ReferenceEquals(stored, candidate)));
            }

            public ValueTask<SessionRecord?> GetAsync(string sessionId, CancellationToken cancellationToken)
                => ValueTask.FromResult(_sessions.TryGetValue(sessionId, out var session) ? session : null);

            public ValueTask TouchAsync(string sessionId, DateTimeOffset timestamp, CancellationToken cancellationToken)
            {
                while (_sessions.TryGetValue(sessionId, out var session) && timestamp > session.LastActivity
                    && !_sessions.TryUpdate(sessionId, session with { LastActivity = timestamp }, session))
                {
                }

                return ValueTask.CompletedTask;
            }

            public ValueTask<SessionRecord?> RemoveAsync(string sessionId, CancellationToken cancellationToken)
                => ValueTask.FromResult(_sessions.TryRemove(sessionId, out var session) ? session : null);

            public async IAsyncEnumerable<SessionRecord> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
            {
                foreach (var session in _sessions.Values)
                {
                    yield return session;
                }

                await Task.CompletedTask;
            }
        }

        [TestClass]
        public sealed class DictionaryStoreConformanceTests : SessionStoreConformanceTests
        {
            protected override ISessionStore CreateStore() => new DictionaryStore(lastWriterWins: false);
        }

        [TestClass]
        public sealed class LastWriterWinsStoreConformanceTests : SessionStoreConformanceTests
        {
            protected override ISessionStore CreateStore() => new DictionaryStore(lastWriterWins: true);
        }
        """;
}
