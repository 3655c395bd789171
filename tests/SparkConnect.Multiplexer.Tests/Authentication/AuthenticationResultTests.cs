namespace SparkConnect.Multiplexer.Tests.Authentication;

/// <summary>The outcome flags callers can trust for nullability.</summary>
[TestClass]
public sealed class AuthenticationResultTests
{
    [TestMethod]
    public void Flags_FollowTheOutcome()
    {
        var success = AuthenticationResult.Success(new GatewayPrincipal("alice"));
        var refused = AuthenticationResult.Refuse("no");
        var unavailable = AuthenticationResult.Unavailable("down");
        var none = AuthenticationResult.NoResult();

        Assert.IsTrue(success.Succeeded && !success.Failed);
        Assert.AreEqual("alice", success.Principal.UserName, "Succeeded promises a principal (no ! needed)");
        Assert.IsTrue(refused.Failed && !refused.Succeeded);
        Assert.AreEqual(2, refused.Reason.Length, "Failed promises a reason (this line would not compile without it: warnings are errors)");
        Assert.IsTrue(unavailable.Failed);
        Assert.IsFalse(none.Succeeded || none.Failed);
    }
}
