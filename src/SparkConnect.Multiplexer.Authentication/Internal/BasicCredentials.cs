using System.Text;
using Microsoft.AspNetCore.Http;

namespace SparkConnect.Multiplexer.Authentication.Internal;

/// <summary>Reads <c>authorization: Basic base64(user:password)</c>.</summary>
internal static class BasicCredentials
{
    public static bool TryRead(IHeaderDictionary headers, out string user, out string password)
    {
        user = "";
        password = "";
        var header = headers.Authorization.ToString();
        const string Scheme = "Basic ";
        if (header.Length <= Scheme.Length || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[Scheme.Length..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return false;
        }

        user = decoded[..colon];
        password = decoded[(colon + 1)..];
        return true;
    }
}
