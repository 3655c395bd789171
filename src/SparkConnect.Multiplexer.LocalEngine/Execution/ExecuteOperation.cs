using Google.Protobuf;
using Spark.Connect;

namespace SparkConnect.Multiplexer.LocalEngine.Execution;

/// <summary>
/// One ExecutePlan operation: a producer appends responses, one attached stream at a time sends them. The producer
/// waits while too many responses are unsent (so a large result never sits in memory whole), and sent responses
/// are kept only within the retry buffer so a reattaching client can resume after its last response id.
/// </summary>
#pragma warning disable CA1001 // The token source has no timer, so leaving it undisposed leaks nothing, and the producer may still read its token after the operation is forgotten.
internal sealed class ExecuteOperation
#pragma warning restore CA1001
{
    private const int MaxUnsentResponses = 4;
    private readonly Lock _lock = new();
    private readonly List<(long Index, ExecutePlanResponse Response, int Size)> _responses = [];
    private readonly CancellationTokenSource _cancellation = new();
    private readonly long _retryBufferBytes;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextIndex;
    private long _sentIndex;
    private long _retainedSentBytes;
    private bool _completed;
    private Exception? _error;
    private int _attachGeneration;

    public ExecuteOperation(string operationId, IReadOnlyCollection<string> tags, bool reattachable, long retryBufferBytes)
    {
        OperationId = operationId;
        Tags = tags;
        Reattachable = reattachable;
        _retryBufferBytes = retryBufferBytes;
    }

    public string OperationId { get; }

    public IReadOnlyCollection<string> Tags { get; }

    public bool Reattachable { get; }

    public CancellationToken Cancellation => _cancellation.Token;

    public DateTimeOffset LastDetached { get; private set; } = DateTimeOffset.UtcNow;

    public bool IsAttached { get; private set; }

    public bool IsCompleted
    {
        get
        {
            lock (_lock)
            {
                return _completed;
            }
        }
    }

    public void Cancel()
    {
        try
        {
            _cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished and cleaned up: nothing left to cancel.
        }
    }

    /// <summary>Appends one response, then waits while the attached client is too far behind.</summary>
    public async ValueTask AddAsync(ExecutePlanResponse response, CancellationToken cancellationToken)
    {
        Task wait;
        lock (_lock)
        {
            response.OperationId = OperationId;
            response.ResponseId = Guid.NewGuid().ToString();
            _responses.Add((_nextIndex++, response, response.CalculateSize()));
            Signal();
            if (_nextIndex - _sentIndex <= MaxUnsentResponses)
            {
                return;
            }

            wait = _changed.Task;
        }

        while (true)
        {
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                if (_nextIndex - _sentIndex <= MaxUnsentResponses)
                {
                    return;
                }

                wait = _changed.Task;
            }
        }
    }

    /// <summary>Appends one response unless the attached client is too far behind (for responses not worth waiting for).</summary>
    public bool TryAdd(ExecutePlanResponse response)
    {
        lock (_lock)
        {
            if (_completed || _nextIndex - _sentIndex > MaxUnsentResponses)
            {
                return false;
            }

            response.OperationId = OperationId;
            response.ResponseId = Guid.NewGuid().ToString();
            _responses.Add((_nextIndex++, response, response.CalculateSize()));
            Signal();
            return true;
        }
    }

    public void Complete(Exception? error)
    {
        lock (_lock)
        {
            _completed = true;
            _error = error;
            Signal();
        }
    }

    /// <summary>
    /// Where a (re)attaching stream starts: after <paramref name="lastResponseId"/>, or at the first kept response.
    /// Attaching takes over from any stream still attached (Spark does the same).
    /// </summary>
    public (long Start, int Generation) Attach(string? lastResponseId)
    {
        lock (_lock)
        {
            long start;
            if (string.IsNullOrEmpty(lastResponseId))
            {
                // Without a last response id the client wants the stream from its beginning.
                var firstKept = _responses.Count > 0 ? _responses[0].Index : _nextIndex;
                if (firstKept > 0)
                {
                    throw new EngineException(ErrorClasses.CursorPositionNotAvailable, "The cursor is invalid. The start of the stream was already released.", new() { ["index"] = "0" });
                }

                start = 0;
            }
            else
            {
                var found = _responses.FindIndex(r => r.Response.ResponseId == lastResponseId);
                if (found < 0)
                {
                    throw new EngineException(ErrorClasses.CursorPositionNotAvailable, $"The cursor is invalid. The cursor position id {lastResponseId} is not found.", new() { ["responseId"] = lastResponseId });
                }

                start = _responses[found].Index + 1;
            }

            IsAttached = true;
            _attachGeneration++;
            Signal();
            return (start, _attachGeneration);
        }
    }

    public void Detach(int generation)
    {
        lock (_lock)
        {
            if (generation == _attachGeneration)
            {
                IsAttached = false;
                LastDetached = DateTimeOffset.UtcNow;
            }
        }
    }

    /// <summary>The next response at or after <paramref name="index"/>; null when the operation ended.</summary>
    public async ValueTask<ExecutePlanResponse?> NextAsync(long index, int generation, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (generation != _attachGeneration)
                {
                    throw new EngineException(ErrorClasses.CursorDisconnected, "The cursor is invalid. The cursor has been disconnected by the server.", new() { ["operationId"] = OperationId });
                }

                var position = _responses.FindIndex(r => r.Index == index);
                if (position >= 0)
                {
                    return _responses[position].Response;
                }

                if (_responses.Count > 0 && index < _responses[0].Index)
                {
                    throw new EngineException(ErrorClasses.CursorPositionNotAvailable, "The cursor is invalid. The cursor position was released.", new() { ["index"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                }

                if (_completed && index >= _nextIndex)
                {
                    if (_error is not null)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(_error).Throw();
                    }

                    return null;
                }

                wait = _changed.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Records that the response at <paramref name="index"/> reached the client; trims the retry buffer.</summary>
    public void MarkSent(long index)
    {
        lock (_lock)
        {
            _sentIndex = Math.Max(_sentIndex, index + 1);
            var position = _responses.FindIndex(r => r.Index == index);
            if (position >= 0)
            {
                _retainedSentBytes += _responses[position].Size;
            }

            // Non-reattachable streams cannot resume, so nothing sent is worth keeping.
            var budget = Reattachable ? _retryBufferBytes : 0;
            while (_responses.Count > 1 && _responses[0].Index < _sentIndex - 1 && _retainedSentBytes > budget)
            {
                _retainedSentBytes -= _responses[0].Size;
                _responses.RemoveAt(0);
            }

            Signal();
        }
    }

    /// <summary>ReleaseExecute(until): the client will never ask for these again.</summary>
    public void ReleaseUntil(string responseId)
    {
        lock (_lock)
        {
            var found = _responses.FindIndex(r => r.Response.ResponseId == responseId);
            if (found < 0)
            {
                return;
            }

            for (var i = 0; i <= found; i++)
            {
                if (_responses[i].Index < _sentIndex)
                {
                    _retainedSentBytes -= _responses[i].Size;
                }
            }

            _responses.RemoveRange(0, found + 1);
            Signal();
        }
    }

    private void Signal()
    {
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }
}
