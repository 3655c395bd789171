using Microsoft.AspNetCore.Http;

namespace SparkConnect.Multiplexer.Authentication.Tests.Infrastructure;

/// <summary>Builds <see cref="AuthenticationContext"/>s for calling an authenticator directly.</summary>
internal static class TestCalls
{
    public static AuthenticationContext Context(string? authorization = null, string? claimedUserId = null, IServiceProvider? services = null)
    {
        var http = new DefaultHttpContext();
        if (services is not null)
        {
            http.RequestServices = services;
        }

        if (authorization is not null)
        {
            http.Request.Headers.Authorization = authorization;
        }

        return new AuthenticationContext(http, claimedUserId);
    }

    public static AuthenticationContext Basic(string user, string password)
        => Context("Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(user + ":" + password)));

    public static AuthenticationContext UserAndToken(string user, string token) => Context("Bearer " + token, user);
}
