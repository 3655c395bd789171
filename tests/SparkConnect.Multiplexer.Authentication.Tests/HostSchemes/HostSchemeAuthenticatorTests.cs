using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authentication.HostSchemes;
using SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;

namespace SparkConnect.Multiplexer.Authentication.Tests.HostSchemes;

[TestClass]
public sealed class HostSchemeAuthenticatorTests
{
    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancel => TestContext.CancellationToken;

    [TestMethod]
    public async Task CustomScheme_Succeeds_UserAndGroupsMapped_UserReachesEngine()
    {
        await using var gateway = await StartAsync(o => o.Schemes.Add(HeaderAuthenticationHandler.SchemeName));

        var seen = await gateway.CallAsUserAsync(Headers("jack", "eng,ops"), "mallory", Cancel);
        var direct = await Authenticator(gateway).AuthenticateAsync(Context(gateway, "jack", "eng,ops"), Cancel);

        Assert.AreEqual("jack", seen);
        CollectionAssert.AreEqual(new[] { "eng", "ops" }, direct.Principal!.Groups.ToArray());
    }

    [TestMethod]
    public async Task ConfiguredUserClaim_IsUsed()
    {
        await using var gateway = await StartAsync(o =>
        {
            o.Schemes.Add(HeaderAuthenticationHandler.SchemeName);
            o.UserClaims.Add("employee_id");
        });

        var seen = await gateway.CallAsUserAsync(Headers("jack"), null, Cancel);

        Assert.AreEqual("e-jack", seen);
    }

    [TestMethod]
    public async Task SchemeHasNoResult_FallsThroughToStaticToken()
    {
        await using var gateway = await StartAsync(o => o.Schemes.Add(HeaderAuthenticationHandler.SchemeName));

        var seen = await gateway.CallAsUserAsync(TestGateway.Bearer(TestGateway.StaticToken), null, Cancel);

        Assert.AreEqual(TestGateway.StaticUser, seen);
    }

    [TestMethod]
    public async Task SchemeFails_Unauthenticated_FailureMessageNotSentToClient()
    {
        await using var gateway = await StartAsync(o => o.Schemes.Add(HeaderAuthenticationHandler.SchemeName));

        var error = await gateway.CallExpectingErrorAsync(Headers("!fail"), null, Cancel);

        Assert.AreEqual(StatusCode.Unauthenticated, error.StatusCode);
        Assert.AreEqual("authentication failed (Header)", error.Status.Detail);
        Assert.IsFalse(error.Status.Detail.Contains(HeaderAuthenticationHandler.SecretInFailure, StringComparison.Ordinal));
    }

    [TestMethod]
    public async Task NoSchemesConfigured_UsesHttpContextUserFromHostMiddleware()
    {
        await using var gateway = await TestGateway.StartAsync(new TestGatewayOptions
        {
            Services = s => s.AddAuthentication(HeaderAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, HeaderAuthenticationHandler>(HeaderAuthenticationHandler.SchemeName, null),
            App = app => app.UseAuthentication(),
            Gateway = g => g.AddHostSchemeAuthenticator(),
        }, Cancel);

        var seen = await gateway.CallAsUserAsync(Headers("kate"), null, Cancel);
        var token = await gateway.CallAsUserAsync(TestGateway.Bearer(TestGateway.StaticToken), null, Cancel);

        Assert.AreEqual("kate", seen);
        Assert.AreEqual(TestGateway.StaticUser, token);
    }

    [TestMethod]
    public async Task UnknownScheme_GatewayDoesNotStart_ErrorNamesKeyAndKnownSchemes()
    {
        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => StartAsync(o => o.Schemes.Add("Kerberos")));

        StringAssert.Contains(error.Message, "SparkConnectGateway:Authentication:HostScheme:Schemes:0 'Kerberos'");
        StringAssert.Contains(error.Message, HeaderAuthenticationHandler.SchemeName);
    }

    private static Metadata Headers(string user, string? groups = null)
    {
        var headers = new Metadata { { "x-test-user", user } };
        if (groups is not null)
        {
            headers.Add("x-test-groups", groups);
        }

        return headers;
    }

    private static AuthenticationContext Context(TestGateway gateway, string user, string groups)
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = gateway.Services };
        http.Request.Headers["x-test-user"] = user;
        http.Request.Headers["x-test-groups"] = groups;
        return new AuthenticationContext(http, null);
    }

    private static HostSchemeAuthenticator Authenticator(TestGateway gateway)
        => gateway.Services.GetServices<IAuthenticator>().OfType<HostSchemeAuthenticator>().Single();

    private Task<TestGateway> StartAsync(Action<HostSchemeAuthenticationOptions> configure)
        => TestGateway.StartAsync(new TestGatewayOptions
        {
            Services = s => s.AddAuthentication()
                .AddScheme<AuthenticationSchemeOptions, HeaderAuthenticationHandler>(HeaderAuthenticationHandler.SchemeName, null),
            Gateway = g => g.AddHostSchemeAuthenticator(configure),
        }, Cancel);
}
