using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.Benchmarks;

internal enum RelayVariant
{
    /// <summary>A copy of EngineForwarder.RelayAsync as it is in src/: GetMemory(64 KiB), flush per read.</summary>
    Current,

    /// <summary>The change measured against it (see docs/benchmarks.md).</summary>
    Proposed,
}

/// <summary>
/// A bare forwarder built from copies of the gateway's forwarding pieces (the engine handler settings of
/// EngineChannelPool, the header handling and the response relay of EngineForwarder), without
/// authentication, routing, sessions or envelope rewriting. Two instances differ only in the relay loop, so the
/// difference between them is the relay change; the difference to the gateway is everything else per call.
/// </summary>
internal static class PrototypeForwarder
{
    public const int CurrentChunk = 64 * 1024;
    public const int ProposedChunk = 256 * 1024;

    public static async Task<BenchPath> StartAsync(Uri engine, string name, RelayVariant variant)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            ActivityHeadersPropagator = null,
        });
        app.MapPost("/spark.connect.SparkConnectService/{method}", context => ForwardAsync(context, engine, invoker, variant));
        await app.StartAsync();
        var address = new Uri(app.Urls.First());
        return new BenchPath(name, address, async () =>
        {
            invoker.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
        });
    }

    private static async Task ForwardAsync(HttpContext context, Uri engine, HttpMessageInvoker invoker, RelayVariant variant)
    {
        context.Features.Get<IHttpMinRequestBodyDataRateFeature>()?.MinDataRate = null;
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var token = context.RequestAborted;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(engine, context.Request.Path.Value))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new PipeContent(context.Request.BodyReader),
        };
        foreach (var (name, values) in context.Request.Headers)
        {
            if (name.StartsWith(':') || name is "host" or "te" or "content-length" or "Host" or "Content-Length" or "TE")
            {
                continue;
            }

            var all = values.ToArray();
            if (!request.Headers.TryAddWithoutValidation(name, all))
            {
                request.Content.Headers.TryAddWithoutValidation(name, all);
            }
        }

        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        using var response = await invoker.SendAsync(request, token);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.NonValidated)
        {
            context.Response.Headers[name] = values.ToArray();
        }

        foreach (var (name, values) in response.Content.Headers.NonValidated)
        {
            if (!name.Equals("content-length", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }

        await context.Response.StartAsync(token);
        var body = await response.Content.ReadAsStreamAsync(token);
        if (variant == RelayVariant.Current)
        {
            await RelayCurrentAsync(body, context.Response.BodyWriter, token);
        }
        else
        {
            await RelayProposedAsync(body, context.Response.BodyWriter, token);
        }

        foreach (var (name, values) in response.TrailingHeaders.NonValidated)
        {
            foreach (var value in values)
            {
                context.Response.AppendTrailer(name, value);
            }
        }
    }

    /// <summary>Verbatim copy of EngineForwarder.RelayAsync.</summary>
    private static async Task<long> RelayCurrentAsync(Stream source, PipeWriter destination, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            var buffer = destination.GetMemory(CurrentChunk);
            var read = await source.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return total;
            }

            destination.Advance(read);
            total += read;
            var flushed = await destination.FlushAsync(cancellationToken);
            if (flushed.IsCanceled || flushed.IsCompleted)
            {
                throw new OperationCanceledException("The client stopped reading the response.");
            }
        }
    }

    /// <summary>The proposed relay: a larger read per flush.</summary>
    private static async Task<long> RelayProposedAsync(Stream source, PipeWriter destination, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            var buffer = destination.GetMemory(ProposedChunk);
            var read = await source.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return total;
            }

            destination.Advance(read);
            total += read;
            var flushed = await destination.FlushAsync(cancellationToken);
            if (flushed.IsCanceled || flushed.IsCompleted)
            {
                throw new OperationCanceledException("The client stopped reading the response.");
            }
        }
    }

    /// <summary>The client's request body, passed through as it arrives.</summary>
    private sealed class PipeContent(PipeReader body) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            while (true)
            {
                var result = await body.ReadAsync(cancellationToken);
                foreach (var segment in result.Buffer)
                {
                    await stream.WriteAsync(segment, cancellationToken);
                }

                body.AdvanceTo(result.Buffer.End);
                await stream.FlushAsync(cancellationToken);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
