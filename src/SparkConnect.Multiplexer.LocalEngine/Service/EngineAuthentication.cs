using Microsoft.AspNetCore.Http;
using SparkConnect.Multiplexer.Engines;

namespace SparkConnect.Multiplexer.LocalEngine.Service;

/// <summary>
/// Refuses every call that does not carry the engine's access token, with gRPC <c>UNAUTHENTICATED</c> (a
/// trailers-only response) before any byte of the request body is read. The check is the gateway's own
/// (<see cref="EngineAccessToken"/>), the one launched engines are given as <c>{engineToken}</c>.
/// </summary>
internal static class EngineAuthentication
{
    /// <summary>What a refused caller reads; the same words as Spark 4's token check, never the token.</summary>
    public const string Refusal = "Invalid authentication token";

    public static Func<HttpContext, RequestDelegate, Task> Require(string accessToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(accessToken);
        return (context, next) =>
        {
            var authorization = context.Request.Headers.Authorization;
            if (authorization.Count == 1 && EngineAccessToken.IsPresented(authorization[0], accessToken))
            {
                return next(context);
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = ((int)Grpc.Core.StatusCode.Unauthenticated).ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.Headers["grpc-message"] = Refusal;
            return Task.CompletedTask;
        };
    }
}
