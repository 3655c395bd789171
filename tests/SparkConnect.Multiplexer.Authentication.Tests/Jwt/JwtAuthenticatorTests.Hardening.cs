using Grpc.Core;
using Microsoft.Extensions.Logging;
using SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Authentication.Tests.Jwt;

// One person, one principal (the user comes from one claim the identity provider controls, unless a fallback is
// configured), and a JWKS document of bounded size.
public sealed partial class JwtAuthenticatorTests
{
    [TestMethod]
    public async Task TokenWithoutSub_PreferredUsernameOnly_RefusedByDefault()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks);
        var token = key.CreateToken(subject: null, extraClaims: new Dictionary<string, object> { ["preferred_username"] = "carol" });

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(token), null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "sub");
        Assert.IsEmpty(gateway.Engine.Calls);
    }

    [TestMethod]
    public async Task JwksDocumentOverDefaultLimit_WithContentLength_UnavailableAndLogged()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        jwks.Pad(2 * 1024 * 1024);
        await using var gateway = await StartGatewayAsync(jwks);

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(key.CreateToken()), null, Cancel);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "authentication service unreachable");
        Assert.IsEmpty(gateway.Engine.Calls);
        AssertTooLargeLogged(gateway, 1048576);
    }

    [TestMethod]
    public async Task JwksDocumentOverDefaultLimit_Chunked_UnavailableAndLogged()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        jwks.Pad(10 * 1024 * 1024, chunked: true);
        await using var gateway = await StartGatewayAsync(jwks);

        var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(key.CreateToken()), null, Cancel);

        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        StringAssert.Contains(error.Status.Detail, "authentication service unreachable");
        AssertTooLargeLogged(gateway, 1048576);
    }

    [TestMethod]
    public async Task UserClaimFallback_ExplicitlyOn_NextClaimNamesTokenWithoutSub()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks, o =>
        {
            o.UserClaims.Add("sub");
            o.UserClaims.Add("preferred_username");
            o.AllowUserClaimFallback = true;
        });
        var extra = new Dictionary<string, object> { ["preferred_username"] = "erin" };

        var withoutSub = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken(subject: null, extraClaims: extra)), null, Cancel);
        var withSub = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("carol", extraClaims: extra)), null, Cancel);

        Assert.AreEqual("erin", withoutSub);
        Assert.AreEqual("carol", withSub);
    }

    [TestMethod]
    public async Task UserClaim_NotAPlainName_Refused()
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks);

        foreach (var subject in new[] { "carol ", " carol", "car\nol", "car\u200Bol", " " })
        {
            var error = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(key.CreateToken(subject)), null, Cancel);

            Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode, Uri.EscapeDataString(subject));
            StringAssert.Contains(error.Status.Detail, "'sub'");
        }

        Assert.IsEmpty(gateway.Engine.Calls);
    }

    [TestMethod]
    public void Validator_SeveralUserClaimsWithoutFallback_AndJwksMaxResponseBytesOutOfRange_Fail()
    {
        var options = new JwtAuthenticationOptions { JwksUrl = new Uri("https://idp.example/jwks"), JwksMaxResponseBytes = 0 };
        options.Issuers.Add(JwksServer.Issuer);
        options.Audiences.Add(JwksServer.Audience);
        options.UserClaims.Add("sub");
        options.UserClaims.Add("preferred_username");
        var fixedOptions = new JwtAuthenticationOptions { JwksUrl = new Uri("https://idp.example/jwks"), AllowUserClaimFallback = true };
        fixedOptions.Issuers.Add(JwksServer.Issuer);
        fixedOptions.Audiences.Add(JwksServer.Audience);
        fixedOptions.UserClaims.Add("sub");
        fixedOptions.UserClaims.Add("preferred_username");
        var tooLarge = new JwtAuthenticationOptions { JwksUrl = new Uri("https://idp.example/jwks"), JwksMaxResponseBytes = 64L * 1024 * 1024 + 1 };
        tooLarge.Issuers.Add(JwksServer.Issuer);
        tooLarge.Audiences.Add(JwksServer.Audience);

        var failures = new JwtAuthenticationOptionsValidator().Validate(null, options).Failures?.ToList() ?? [];

        Assert.HasCount(2, failures, string.Join(" | ", failures));
        Assert.IsTrue(failures.Any(f => f.Contains("Jwt:AllowUserClaimFallback", StringComparison.Ordinal)));
        Assert.IsTrue(failures.Any(f => f.Contains("Jwt:JwksMaxResponseBytes", StringComparison.Ordinal)));
        Assert.IsTrue(new JwtAuthenticationOptionsValidator().Validate(null, fixedOptions).Succeeded);
        Assert.IsTrue(new JwtAuthenticationOptionsValidator().Validate(null, tooLarge).Failed);
        Assert.AreEqual(1048576, new JwtAuthenticationOptions().JwksMaxResponseBytes, "the documented default");
        Assert.IsFalse(new JwtAuthenticationOptions().AllowUserClaimFallback, "the documented default");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task JwksMaxResponseBytes_DocumentOfExactlyTheLimit_Accepted_OneByteMore_Unavailable(bool chunked)
    {
        using var key = TestKey.Rsa("rsa-1");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        jwks.Pad(40_000, chunked);
        using var http = new HttpClient();
        var size = (await http.GetByteArrayAsync(jwks.JwksUrl, Cancel)).Length;
        await using var exact = await StartGatewayAsync(jwks, o => o.JwksMaxResponseBytes = size);
        await using var under = await StartGatewayAsync(jwks, o => o.JwksMaxResponseBytes = size - 1);

        var seen = await exact.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("carol")), null, Cancel);
        var error = await under.CallExpectingErrorAsync(TestGateway.Bearer(key.CreateToken("carol")), null, Cancel);

        Assert.AreEqual("carol", seen);
        Assert.AreEqual(StatusCode.Unavailable, error.StatusCode);
        AssertTooLargeLogged(under, size - 1);
    }

    [TestMethod]
    public async Task JwksGrowsOverLimit_AfterAGoodFetch_CachedKeysStayInUse()
    {
        using var key = TestKey.Rsa("rsa-1");
        using var rotated = TestKey.Rsa("rsa-2");
        await using var jwks = await JwksServer.StartAsync(Cancel);
        jwks.Publish(key);
        await using var gateway = await StartGatewayAsync(jwks, o => o.JwksMinimumRefreshInterval = TimeSpan.Zero);
        await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken()), null, Cancel);
        jwks.Publish(key, rotated);
        jwks.Pad(2 * 1024 * 1024);

        var unknownKid = await gateway.CallExpectingErrorAsync(TestGateway.Bearer(rotated.CreateToken()), null, Cancel);
        var known = await gateway.CallAsUserAsync(TestGateway.Bearer(key.CreateToken("dora")), null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, unknownKid.StatusCode, "the oversized set was not taken, so the new kid stays unknown");
        Assert.AreEqual("dora", known);
        AssertTooLargeLogged(gateway, 1048576);
    }

    private static void AssertTooLargeLogged(TestGateway gateway, long limit)
    {
        var text = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.IsTrue(
            gateway.Logs.Entries.Any(e => e.Level == LogLevel.Error && e.Message.Contains(text, StringComparison.Ordinal) && e.Message.Contains("JwksMaxResponseBytes", StringComparison.Ordinal)),
            "the oversized JWKS must be logged as an error naming the limit and its option: " + string.Join(" | ", gateway.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message)));
    }
}
