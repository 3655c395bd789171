using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Tests.Security;

/// <summary>
/// Finding 14: one secret configured as <c>Token</c> for one user and as <c>TokenSha256</c> for another would
/// authenticate as whichever entry matched last; it stops start-up, as two equal plain tokens already did.
/// </summary>
[TestClass]
public sealed class TokenConfigurationTests
{
    private const string Secret = "shared-secret-0123456789abcdef";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Start_WithOneSecretAsTokenAndAsDigest_FailsNamingBothUsers()
    {
        var error = await StartAsync(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:Authentication:Tokens:0:Token"] = Secret,
            ["SparkConnectGateway:Authentication:Tokens:0:User"] = "alice",
            ["SparkConnectGateway:Authentication:Tokens:1:TokenSha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Secret))),
            ["SparkConnectGateway:Authentication:Tokens:1:User"] = "bob",
        });

        Assert.IsNotNull(error, "start-up must fail");
        StringAssert.Contains(string.Join("\n", error.Failures), "one token for several entries (alice, bob)");
    }

    [TestMethod]
    public async Task Start_WithDistinctSecrets_Starts()
    {
        var error = await StartAsync(new Dictionary<string, string?>
        {
            ["SparkConnectGateway:Authentication:Tokens:0:Token"] = Secret,
            ["SparkConnectGateway:Authentication:Tokens:0:User"] = "alice",
            ["SparkConnectGateway:Authentication:Tokens:1:TokenSha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Secret + "-bob"))),
            ["SparkConnectGateway:Authentication:Tokens:1:User"] = "bob",
        });

        Assert.IsNull(error, error is null ? "" : string.Join("\n", error.Failures));
    }

    private async Task<OptionsValidationException?> StartAsync(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        settings["SparkConnectGateway:Engines:Default:Address"] = "http://127.0.0.1:15003";
        settings["SparkConnectGateway:Health:ProbeInterval"] = "00:00:00";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseSetting("urls", "http://127.0.0.1:0");
        builder.Services.AddSparkConnectGateway();
        await using var app = builder.Build();
        try
        {
            await app.StartAsync(TestContext.CancellationToken);
            await app.StopAsync(TestContext.CancellationToken);
            return null;
        }
        catch (OptionsValidationException e)
        {
            return e;
        }
    }
}
