using System.Collections.Frozen;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace SparkConnect.Multiplexer.Management;

/// <summary>
/// The dashboard: a static page, script and style sheet embedded in the assembly (no build step), served at the
/// management endpoint's root. They hold no data: the script asks the admin API with the token the administrator
/// types in, so the page itself needs no authentication. A strict content security policy allows only these files.
/// </summary>
internal static class Dashboard
{
    private const string ResourcePrefix = "SparkConnect.Multiplexer.Dashboard.";

    private static readonly FrozenDictionary<string, (byte[] Content, string ContentType)> Files = new Dictionary<string, (byte[], string)>
    {
        ["/"] = (Load("index.html"), "text/html; charset=utf-8"),
        ["/dashboard.js"] = (Load("dashboard.js"), "text/javascript; charset=utf-8"),
        ["/dashboard.css"] = (Load("dashboard.css"), "text/css; charset=utf-8"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        foreach (var (path, file) in Files)
        {
            endpoints.MapGet(path, (HttpContext http) =>
            {
                var headers = http.Response.Headers;
                headers.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                headers.CacheControl = "no-cache";
                return Results.Bytes(file.Content, file.ContentType);
            }).ExcludeFromDescription();
        }
    }

    private static byte[] Load(string name)
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream(ResourcePrefix + name)
            ?? throw new InvalidOperationException($"The dashboard file {name} is missing from the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
