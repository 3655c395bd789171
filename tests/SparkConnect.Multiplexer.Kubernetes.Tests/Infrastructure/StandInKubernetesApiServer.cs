using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SparkConnect.Multiplexer.Kubernetes.Tests.Infrastructure;

/// <summary>
/// A STAND-IN for the Kubernetes API server — not Kubernetes: no Kubernetes can be installed on the test machines.
/// It serves, on loopback Kestrel (HTTP/1.1), the real REST shapes KubernetesClient uses for pods and events: list
/// (with labelSelector and resourceVersion), watch (a chunked stream of newline-delimited ADDED/MODIFIED/DELETED
/// events from a resourceVersion, and a BOOKMARK before a clean end), 410 Gone (as an HTTP status or a watch ERROR event with a Status object), create
/// (assigns uid, resourceVersion, creationTimestamp, phase Pending), get, delete, and events list. Tests drive pod
/// phase and readiness by hand, as the kubelet would. It can serve HTTPS with a certificate the test made, and refuse
/// (401) requests whose bearer token is not <see cref="RequiredToken"/>, as an API server refuses an expired token.
/// A test can hold pod creations (<see cref="HoldPodCreates"/>) to see what else arrives meanwhile, or have created
/// pods start at once (<see cref="StartsCreatedPods"/>) when the kubelet's timing is not what it tests.
/// </summary>
internal sealed class StandInKubernetesApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Namespace, string Name), V1Pod> _pods = [];
    private readonly List<(long Version, string Namespace, string Type, string PodJson, V1Pod Pod)> _history = [];
    private readonly List<Watcher> _watchers = [];
    private readonly List<Corev1Event> _events = [];
    private readonly ConcurrentQueue<(string Line, string? Token)> _requests = new();
    private long _resourceVersion = 100;
    private long _compactedBelow;
    private int _httpGoneForNextWatches;
    private volatile string? _requiredToken;
    private TaskCompletionSource? _createsHeld;
    private TaskCompletionSource _createArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _startsCreatedPods;

    private StandInKubernetesApiServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>Every request as "METHOD path?query", in arrival order (refused ones included).</summary>
    public IReadOnlyList<string> Requests => [.. _requests.Select(r => r.Line)];

    /// <summary>The bearer token of every request (null without one), in arrival order, parallel to <see cref="Requests"/>.</summary>
    public IReadOnlyList<string?> BearerTokens => [.. _requests.Select(r => r.Token)];

    /// <summary>When set, a request without <c>Authorization: Bearer</c> this token is answered 401 Unauthorized.</summary>
    public string? RequiredToken
    {
        get => _requiredToken;
        set => _requiredToken = value;
    }

    /// <summary>
    /// When set, every pod created through the API goes Running and Ready (pod IP 127.0.0.1) right after its ADDED
    /// event, as a kubelet with the image cached would: for tests about routing rather than start-up.
    /// </summary>
    public bool StartsCreatedPods
    {
        get => _startsCreatedPods;
        set => _startsCreatedPods = value;
    }

    /// <summary>How many pod creations arrived (each POST to a namespace's pods, held or answered).</summary>
    public int PodCreateRequestCount => Requests.Count(r => r.StartsWith("POST ", StringComparison.Ordinal) && r.EndsWith("/pods", StringComparison.Ordinal));

    public int WatchRequestCount => Requests.Count(r => r.StartsWith("GET ", StringComparison.Ordinal) && r.Contains("watch=true", StringComparison.Ordinal));

    public int ListRequestCount => Requests.Count(r => r.StartsWith("GET ", StringComparison.Ordinal) && r.Contains("/pods", StringComparison.Ordinal) && !r.Contains("watch=true", StringComparison.Ordinal) && !r.Contains("/pods/", StringComparison.Ordinal));

    public int OpenWatchCount
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count;
            }
        }
    }

    /// <summary>Starts the stand-in on a free loopback port: HTTP, or HTTPS with <paramref name="certificate"/>.</summary>
    public static async Task<StandInKubernetesApiServer> StartAsync(X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o =>
        {
            o.Protocols = HttpProtocols.Http1;
            if (certificate is not null)
            {
                o.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        StandInKubernetesApiServer? server = null;
        app.Use(async (context, next) =>
        {
            var authorization = context.Request.Headers.Authorization.ToString();
            var token = authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..] : null;
            server!._requests.Enqueue(($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}", token));
            if (server.RequiredToken is { } required && token != required)
            {
                await WriteStatusAsync(context, 401, "Unauthorized", "Unauthorized");
                return;
            }

            await next(context);
        });
        app.MapGet("/api/v1/namespaces/{ns}/pods", (string ns, HttpContext context) => server!.ListOrWatchAsync(ns, context));
        app.MapPost("/api/v1/namespaces/{ns}/pods", (string ns, HttpContext context) => server!.CreateAsync(ns, context));
        app.MapGet("/api/v1/namespaces/{ns}/pods/{name}", (string ns, string name, HttpContext context) => server!.GetAsync(ns, name, context));
        app.MapDelete("/api/v1/namespaces/{ns}/pods/{name}", (string ns, string name, HttpContext context) => server!.DeleteAsync(ns, name, context));
        app.MapGet("/api/v1/namespaces/{ns}/events", (string ns, HttpContext context) => server!.ListEventsAsync(ns, context));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new StandInKubernetesApiServer(app, new Uri(address));
        return server;
    }

    /// <summary>
    /// Holds every pod creation that arrives from now on, before the pod exists, until <see cref="ReleasePodCreates"/>:
    /// the caller waits for the API server's answer meanwhile, as it would for a slow admission webhook.
    /// </summary>
    public void HoldPodCreates()
    {
        lock (_gate)
        {
            _createsHeld ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _createArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Completes when a pod creation is being held (see <see cref="HoldPodCreates"/>).</summary>
    public Task PodCreateHeld
    {
        get
        {
            lock (_gate)
            {
                return _createArrived.Task;
            }
        }
    }

    /// <summary>Lets the held pod creations (and every later one) go on.</summary>
    public void ReleasePodCreates()
    {
        TaskCompletionSource? held;
        lock (_gate)
        {
            held = _createsHeld;
            _createsHeld = null;
        }

        held?.TrySetResult();
    }

    /// <summary>A pod as the stand-in stores it (a deep copy), or null.</summary>
    public V1Pod? Pod(string ns, string name)
    {
        lock (_gate)
        {
            return _pods.TryGetValue((ns, name), out var pod) ? Copy(pod) : null;
        }
    }

    public IReadOnlyList<V1Pod> Pods(string ns)
    {
        lock (_gate)
        {
            return [.. _pods.Where(p => p.Key.Namespace == ns).Select(p => Copy(p.Value))];
        }
    }

    /// <summary>Adds a pod as if someone else created it (ADDED event).</summary>
    public V1Pod AddPod(V1Pod pod)
    {
        lock (_gate)
        {
            var ns = pod.Metadata.NamespaceProperty;
            var stored = Copy(pod);
            stored.Metadata.Uid ??= Guid.NewGuid().ToString();
            stored.Metadata.CreationTimestamp ??= DateTime.UtcNow;
            stored.Status ??= new V1PodStatus { Phase = "Pending" };
            _pods[(ns, stored.Metadata.Name)] = stored;
            Publish(ns, "ADDED", stored);
            return Copy(stored);
        }
    }

    /// <summary>Changes a pod as the kubelet would (MODIFIED event).</summary>
    public void Update(string ns, string name, Action<V1Pod> change)
    {
        lock (_gate)
        {
            var pod = _pods[(ns, name)];
            change(pod);
            Publish(ns, "MODIFIED", pod);
        }
    }

    /// <summary>Removes a pod as if someone else deleted it (DELETED event).</summary>
    public void RemovePod(string ns, string name)
    {
        lock (_gate)
        {
            if (_pods.Remove((ns, name), out var pod))
            {
                Publish(ns, "DELETED", pod);
            }
        }
    }

    /// <summary>Running, Ready (or not), with pod IP 127.0.0.1.</summary>
    public void SetRunning(string ns, string name, bool ready) => Update(ns, name, pod => MarkRunning(pod, ready));

    private static void MarkRunning(V1Pod pod, bool ready)
    {
        pod.Status ??= new V1PodStatus();
        pod.Status.Phase = "Running";
        pod.Status.PodIP = "127.0.0.1";
        pod.Status.Conditions =
        [
            new V1PodCondition { Type = "PodScheduled", Status = "True" },
            new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False" },
        ];
    }

    public void AddEvent(string ns, string podName, string type, string reason, string message)
    {
        lock (_gate)
        {
            _events.Add(new Corev1Event
            {
                Metadata = new V1ObjectMeta { Name = podName + "." + _events.Count, NamespaceProperty = ns, CreationTimestamp = DateTime.UtcNow },
                InvolvedObject = new V1ObjectReference { Kind = "Pod", Name = podName, NamespaceProperty = ns },
                Type = type,
                Reason = reason,
                Message = message,
                LastTimestamp = DateTime.UtcNow.AddMilliseconds(_events.Count),
            });
        }
    }

    /// <summary>
    /// Ends every open watch stream cleanly, as an API server does at its watch timeout: a watch that asked for
    /// bookmarks first gets a BOOKMARK event with the current resourceVersion (KEP-956).
    /// </summary>
    public void CloseWatches()
    {
        lock (_gate)
        {
            var bookmark = $"{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{{\"resourceVersion\":\"{_resourceVersion.ToString(CultureInfo.InvariantCulture)}\"}}}}}}";
            foreach (var watcher in _watchers)
            {
                if (watcher.Bookmarks)
                {
                    watcher.Events.Writer.TryWrite(bookmark);
                }

                watcher.Events.Writer.TryComplete();
            }
        }
    }

    /// <summary>
    /// Forgets the history (as etcd compaction does) and sends every open watch an ERROR event with a 410 Status,
    /// then ends it: a watch from an old resourceVersion is answered 410 from now on.
    /// </summary>
    public void ExpireWatchesWithErrorEvent()
    {
        lock (_gate)
        {
            Compact();
            var status = GoneStatus("too old resource version");
            foreach (var watcher in _watchers)
            {
                watcher.Events.Writer.TryWrite($"{{\"type\":\"ERROR\",\"object\":{status}}}");
                watcher.Events.Writer.TryComplete();
            }
        }
    }

    /// <summary>Compacts the history and answers the next <paramref name="count"/> watch request(s) with HTTP 410, after ending open watches.</summary>
    public void ExpireWatchesWithHttpGone(int count = 1)
    {
        lock (_gate)
        {
            Compact();
            _httpGoneForNextWatches = count;
            foreach (var watcher in _watchers)
            {
                watcher.Events.Writer.TryComplete();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        CloseWatches();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }

    private static V1Pod Copy(V1Pod pod) => KubernetesJson.Deserialize<V1Pod>(KubernetesJson.Serialize(pod));

    private static bool Matches(V1Pod pod, string? selector)
    {
        if (string.IsNullOrEmpty(selector))
        {
            return true;
        }

        var labels = pod.Metadata?.Labels ?? new Dictionary<string, string>();
        foreach (var term in selector.Split(','))
        {
            var equals = term.IndexOf('=', StringComparison.Ordinal);
            if (term.StartsWith('!'))
            {
                if (labels.ContainsKey(term[1..]))
                {
                    return false;
                }
            }
            else if (equals < 0)
            {
                if (!labels.ContainsKey(term))
                {
                    return false;
                }
            }
            else
            {
                var name = term[..equals].TrimEnd('!', '=');
                var value = term[(equals + 1)..].TrimStart('=');
                var negate = term[..equals].EndsWith('!');
                var has = labels.TryGetValue(name, out var actual) && actual == value;
                if (has == negate)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static async Task WriteJsonAsync(HttpContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json);
    }

    private static Task WriteStatusAsync(HttpContext context, int code, string reason, string message)
        => WriteJsonAsync(context, code, StatusJson(code, reason, message));

    /// <summary>A meta/v1 Status, as the API server writes it (KubernetesJson only reads Status objects).</summary>
    private static string StatusJson(int code, string reason, string message)
        => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new Dictionary<string, object>(),
            ["status"] = "Failure",
            ["message"] = message,
            ["reason"] = reason,
            ["code"] = code,
        });

    private static string GoneStatus(string message) => StatusJson(410, "Expired", message);

    private void Compact()
    {
        _compactedBelow = _resourceVersion + 1;
        _history.Clear();
    }

    private void Publish(string ns, string type, V1Pod pod)
    {
        pod.Metadata.ResourceVersion = (++_resourceVersion).ToString(CultureInfo.InvariantCulture);
        var json = KubernetesJson.Serialize(pod);
        _history.Add((_resourceVersion, ns, type, json, Copy(pod)));
        foreach (var watcher in _watchers)
        {
            if (watcher.Namespace == ns && Matches(pod, watcher.Selector))
            {
                watcher.Events.Writer.TryWrite($"{{\"type\":\"{type}\",\"object\":{json}}}");
            }
        }
    }

    private async Task ListOrWatchAsync(string ns, HttpContext context)
    {
        var selector = context.Request.Query["labelSelector"].ToString();
        if (context.Request.Query["watch"] == "true" || context.Request.Query["watch"] == "1")
        {
            await WatchAsync(ns, selector, context);
            return;
        }

        string json;
        lock (_gate)
        {
            var list = new V1PodList
            {
                ApiVersion = "v1",
                Kind = "PodList",
                Metadata = new V1ListMeta { ResourceVersion = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
                Items = [.. _pods.Where(p => p.Key.Namespace == ns && Matches(p.Value, selector)).Select(p => p.Value)],
            };
            json = KubernetesJson.Serialize(list);
        }

        await WriteJsonAsync(context, 200, json);
    }

    private async Task WatchAsync(string ns, string selector, HttpContext context)
    {
        Watcher? watcher = new Watcher(ns, selector, context.Request.Query["allowWatchBookmarks"] == "true");
        lock (_gate)
        {
            if (_httpGoneForNextWatches > 0)
            {
                _httpGoneForNextWatches--;
                watcher = null;
            }
            else
            {
                long.TryParse(context.Request.Query["resourceVersion"], NumberStyles.None, CultureInfo.InvariantCulture, out var from);
                if (from > 0 && from < _compactedBelow - 1)
                {
                    var status = GoneStatus($"too old resource version: {from}");
                    watcher.Events.Writer.TryWrite($"{{\"type\":\"ERROR\",\"object\":{status}}}");
                    watcher.Events.Writer.TryComplete();
                }
                else
                {
                    foreach (var (version, eventNamespace, type, json, pod) in _history)
                    {
                        if (version > from && eventNamespace == ns && Matches(pod, selector))
                        {
                            watcher.Events.Writer.TryWrite($"{{\"type\":\"{type}\",\"object\":{json}}}");
                        }
                    }

                    _watchers.Add(watcher);
                }
            }
        }

        if (watcher is null)
        {
            await WriteStatusAsync(context, 410, "Expired", "too old resource version");
            return;
        }

        try
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            await context.Response.StartAsync(context.RequestAborted);
            await foreach (var line in watcher.Events.Reader.ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync(line + "\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(watcher);
            }
        }
    }

    private async Task CreateAsync(string ns, HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var pod = KubernetesJson.Deserialize<V1Pod>(await reader.ReadToEndAsync(context.RequestAborted));
        Task? held;
        lock (_gate)
        {
            held = _createsHeld?.Task;
            if (held is not null)
            {
                _createArrived.TrySetResult();
            }
        }

        if (held is not null)
        {
            await held.WaitAsync(context.RequestAborted);
        }

        string json;
        lock (_gate)
        {
            if (_pods.ContainsKey((ns, pod.Metadata.Name)))
            {
                json = "";
            }
            else
            {
                pod.Metadata.NamespaceProperty = ns;
                pod.Metadata.Uid = Guid.NewGuid().ToString();
                pod.Metadata.CreationTimestamp = DateTime.UtcNow;
                pod.Status = new V1PodStatus { Phase = "Pending" };
                _pods[(ns, pod.Metadata.Name)] = pod;
                Publish(ns, "ADDED", pod);
                json = KubernetesJson.Serialize(pod);
                if (StartsCreatedPods)
                {
                    MarkRunning(pod, ready: true);
                    Publish(ns, "MODIFIED", pod);
                }
            }
        }

        if (json.Length == 0)
        {
            await WriteStatusAsync(context, 409, "AlreadyExists", $"pods \"{pod.Metadata.Name}\" already exists");
            return;
        }

        await WriteJsonAsync(context, 201, json);
    }

    private async Task GetAsync(string ns, string name, HttpContext context)
    {
        var pod = Pod(ns, name);
        if (pod is null)
        {
            await WriteStatusAsync(context, 404, "NotFound", $"pods \"{name}\" not found");
            return;
        }

        await WriteJsonAsync(context, 200, KubernetesJson.Serialize(pod));
    }

    private async Task DeleteAsync(string ns, string name, HttpContext context)
    {
        string? json = null;
        lock (_gate)
        {
            if (_pods.Remove((ns, name), out var pod))
            {
                Publish(ns, "DELETED", pod);
                json = KubernetesJson.Serialize(pod);
            }
        }

        if (json is null)
        {
            await WriteStatusAsync(context, 404, "NotFound", $"pods \"{name}\" not found");
            return;
        }

        await WriteJsonAsync(context, 200, json);
    }

    private async Task ListEventsAsync(string ns, HttpContext context)
    {
        var fieldSelector = context.Request.Query["fieldSelector"].ToString();
        const string prefix = "involvedObject.name=";
        var name = fieldSelector.StartsWith(prefix, StringComparison.Ordinal) ? fieldSelector[prefix.Length..] : null;
        string json;
        lock (_gate)
        {
            json = KubernetesJson.Serialize(new Corev1EventList
            {
                ApiVersion = "v1",
                Kind = "EventList",
                Metadata = new V1ListMeta { ResourceVersion = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
                Items = [.. _events.Where(e => e.Metadata.NamespaceProperty == ns && (name is null || e.InvolvedObject.Name == name))],
            });
        }

        await WriteJsonAsync(context, 200, json);
    }

    private sealed class Watcher(string ns, string selector, bool bookmarks)
    {
        public string Namespace { get; } = ns;

        public string Selector { get; } = selector;

        public bool Bookmarks { get; } = bookmarks;

        public Channel<string> Events { get; } = Channel.CreateUnbounded<string>();
    }
}
