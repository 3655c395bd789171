using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SparkConnect.Multiplexer.Authenticators;
using SparkConnect.Multiplexer.Forwarding;
using SparkConnect.Multiplexer.Internal;
using SparkConnect.Multiplexer.Protocol;

namespace SparkConnect.Multiplexer.Management;

/// <summary>
/// Guards the admin API: the request is authenticated by the gateway's own authenticator chain (static tokens, then
/// the host's — JWT, client certificates, LDAP, host schemes), throttled like Spark Connect calls, and allowed only
/// to the users and groups of <see cref="GatewayAdminOptions"/>. Refusals are RFC 9457 problem details: 401 without
/// a valid credential, 403 for a user who is not an administrator, 429 while throttled, 503 when an authentication
/// service is down.
/// </summary>
internal sealed class AdminAccess(AuthenticationChain authentication, IOptionsMonitor<SparkConnectGatewayOptions> options, ILogger<AdminAccess> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        GatewayPrincipal principal;
        try
        {
            // No request message here: an authenticator that needs a claimed user id (trial mode) finds none.
            principal = await authentication.AuthenticateAsync(http, static _ => ValueTask.FromResult<string?>(null), http.RequestAborted);
        }
        catch (GatewayException e)
        {
            var (status, detail) = e.StatusCode switch
            {
                StatusCode.Unauthenticated when e.Refusal == RefusalReasons.Throttle => (StatusCodes.Status429TooManyRequests, e.Message),
                StatusCode.Unauthenticated => (StatusCodes.Status401Unauthorized,
                    "Send an administrator's credential as the gateway's clients do: 'Authorization: Bearer <token>' (a token of SparkConnectGateway:Authentication:Tokens, or one the host's authenticators accept)."),
                _ => (StatusCodes.Status503ServiceUnavailable, e.Message),
            };
            GatewayLog.AdminRefused(logger, http.Request.Method, http.Request.Path, http.Connection.RemoteIpAddress, status, ClientText.Escape(e.Message));
            if (status == StatusCodes.Status401Unauthorized)
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
            }

            return Results.Problem(detail, statusCode: status, title: status == StatusCodes.Status401Unauthorized ? "Not authenticated" : null);
        }

        if (!IsAdministrator(principal, options.CurrentValue.Admin))
        {
            var detail = $"User '{principal.UserName}' is not an administrator of this gateway; administrators are listed in SparkConnectGateway:Admin:Users or belong to a group of SparkConnectGateway:Admin:Groups.";
            GatewayLog.AdminRefused(logger, http.Request.Method, http.Request.Path, http.Connection.RemoteIpAddress, StatusCodes.Status403Forbidden, detail);
            return Results.Problem(detail, statusCode: StatusCodes.Status403Forbidden, title: "Not an administrator");
        }

        http.Items[typeof(GatewayPrincipal)] = principal;
        return await next(context);
    }

    /// <summary>The administrator a request was allowed for (set by the filter).</summary>
    public static GatewayPrincipal AdministratorOf(HttpContext http) => (GatewayPrincipal)http.Items[typeof(GatewayPrincipal)]!;

    /// <summary>The client address of a request, as audit lines write it.</summary>
    public static string? ClientOf(HttpContext http) => SessionRouter.AddressOf(http.Connection.RemoteIpAddress);

    private static bool IsAdministrator(GatewayPrincipal principal, GatewayAdminOptions admin)
        => admin.Users.Contains(principal.UserName, StringComparer.Ordinal)
            || principal.Groups.Any(g => admin.Groups.Contains(g, StringComparer.Ordinal));
}
