using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace SparkConnect.Multiplexer.Diagnostics;

/// <summary>
/// Asks each address the server listens on whether it speaks HTTP/2, the way a Spark Connect client will: a
/// cleartext address gets the HTTP/2 connection preface (clients use prior knowledge, there is no upgrade), a TLS
/// address is offered <c>h2</c> by ALPN. Kestrel exposes no public list of its endpoints' protocols, and a host may
/// use another server; probing the bound addresses is the one check that sees what clients will see.
/// </summary>
internal static class Http2EndpointProbe
{
    // The client connection preface (RFC 9113 §3.4) followed by an empty SETTINGS frame.
    private static readonly byte[] Preface = [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, 0, 0, 0, 4, 0, 0, 0, 0, 0];

    private const byte SettingsFrameType = 4;
    private const byte GoAwayFrameType = 7;

    /// <summary>What one address answered.</summary>
    public enum Answer
    {
        /// <summary>The address answered with HTTP/2.</summary>
        Http2,

        /// <summary>The address answered, and not with HTTP/2 (for example HTTP/1.1 400, or ALPN without h2).</summary>
        NotHttp2,

        /// <summary>The address could not be checked (unreachable, client certificate required, timeout).</summary>
        Unknown,
    }

    /// <summary>Probes one bound address such as <c>http://[::]:15002</c>; wildcard hosts are reached on loopback.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5359", Justification = "The probe reads only the negotiated protocol of the server's own address and sends no data over TLS.")]
    public static async Task<Answer> ProbeAsync(string address, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Port <= 0 || uri.Scheme is not ("http" or "https"))
        {
            return Answer.Unknown;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var client = new TcpClient(AddressFamilyOf(uri.Host));
            await client.ConnectAsync(LoopbackFor(uri.Host), uri.Port, deadline.Token);
            Stream stream = client.GetStream();
            if (uri.Scheme == "https")
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = uri.Host is "localhost" || IPAddress.TryParse(uri.Host.Trim('[', ']'), out _) ? "localhost" : uri.Host,
                        ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],

                        // Only the protocol is asked; the probe sends nothing that needs a trusted certificate.
                        RemoteCertificateValidationCallback = (_, _, _, _) => true,
                    },
                    deadline.Token);
                return tls.NegotiatedApplicationProtocol == SslApplicationProtocol.Http2 ? Answer.Http2 : Answer.NotHttp2;
            }

            await using (stream)
            {
                await stream.WriteAsync(Preface, deadline.Token);
                var head = new byte[9];
                var read = 0;
                while (read < head.Length)
                {
                    var n = await stream.ReadAsync(head.AsMemory(read), deadline.Token);
                    if (n == 0)
                    {
                        break;
                    }

                    read += n;
                }

                // An HTTP/2 server's first frame is SETTINGS on stream 0. An HTTP/1 server answers with a status line,
                // or, as Kestrel does on an HTTP/1-only endpoint, with a GOAWAY carrying HTTP_1_1_REQUIRED.
                if (read == head.Length && (head[5] | head[6] | head[7] | head[8]) == 0)
                {
                    if (head[3] == SettingsFrameType)
                    {
                        return Answer.Http2;
                    }

                    if (head[3] == GoAwayFrameType)
                    {
                        return Answer.NotHttp2;
                    }
                }

                return read > 0 && Encoding.ASCII.GetString(head, 0, read).StartsWith("HTTP/", StringComparison.Ordinal)
                    ? Answer.NotHttp2
                    : Answer.Unknown;
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            return Answer.Unknown;
        }
    }

    private static AddressFamily AddressFamilyOf(string host)
        => host.StartsWith('[') ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;

    private static string LoopbackFor(string host) => host switch
    {
        "0.0.0.0" or "*" or "+" or "localhost" => "127.0.0.1",
        "[::]" or "::" => "::1",
        _ => host.Trim('[', ']'),
    };
}
