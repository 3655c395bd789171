using SparkConnect.Multiplexer.TestKit;

namespace SparkConnect.Multiplexer.Tests.Sessions;

[TestClass]
public sealed class InMemorySessionStoreTests : SessionStoreConformanceTests
{
    protected override ISessionStore CreateStore() => new Multiplexer.Sessions.InMemorySessionStore();
}
