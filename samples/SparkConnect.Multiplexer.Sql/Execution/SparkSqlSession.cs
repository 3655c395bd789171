using Apache.Arrow.Ipc;
using Grpc.Core;
using Spark.Connect;
using SparkConnect.Multiplexer.Sql.Connection;
using SparkConnect.Multiplexer.Sql.Output;

namespace SparkConnect.Multiplexer.Sql.Execution;

/// <summary>What a statement sends back while it runs.</summary>
internal interface IExecutionObserver
{
    /// <summary>The engine's stage and task counts (Spark 4's execution_progress).</summary>
    void OnProgress(ExecutePlanResponse.Types.ExecutionProgress progress);

    /// <summary>Rows received so far.</summary>
    void OnRows(long total);
}

/// <summary>A statement's result: its columns (none for a command without output), the rows to print, the row count.</summary>
internal sealed record QueryResult(IReadOnlyList<string> Columns, IReadOnlyList<string[]> Rows, long RowCount);

/// <summary>
/// One Spark Connect session, driven as the Spark clients drive it: each statement is a <c>sql_command</c>, then its
/// relation as the plan's root; every ExecutePlan carries a client-made operation id so that it can be interrupted.
/// </summary>
internal sealed class SparkSqlSession(SparkConnectService.SparkConnectServiceClient client, ConnectionSettings settings)
{
    private const string ClientType = "SparkConnect.Multiplexer.Sql";
    private static readonly TimeSpan ControlCallTimeout = TimeSpan.FromSeconds(10);
    private string? _serverSideSessionId;
    private volatile string? _operationId;
    private int _used;

    public string SessionId => settings.Connection.SessionId;

    public Uri Address => settings.Address;

    private UserContext UserContext => new() { UserId = settings.Connection.UserId, UserName = settings.Connection.UserId };

    /// <summary>
    /// Runs one statement. Cancelling <paramref name="interrupt"/> sends Interrupt for the running operation, then
    /// drops the stream, and ends in <see cref="OperationCanceledException"/>; engine errors are <see cref="RpcException"/>.
    /// </summary>
    public async Task<QueryResult> ExecuteAsync(string sql, int maxRows, IExecutionObserver observer, CancellationToken interrupt)
    {
        using var stream = new CancellationTokenSource();
        Task interrupting = Task.CompletedTask;
        _operationId = null;
        var registration = interrupt.Register(() => interrupting = InterruptThenDropAsync(stream));
        try
        {
            var command = new Plan { Command = new Command { SqlCommand = new SqlCommand { Input = new Relation { Sql = new SQL { Query = sql } } } } };
            Relation? relation = null;
            await foreach (var response in ExecuteAsync(command, observer, stream.Token))
            {
                relation ??= response.SqlCommandResult?.Relation;
            }

            if (relation is null)
            {
                return new QueryResult([], [], 0);
            }

            // A query comes back as a relation to run; a command (DDL, SHOW ...) has run already and comes back as a
            // local relation holding its output. Running either gives the rows to count and print.
            var result = new ResultBuilder(maxRows);
            await foreach (var response in ExecuteAsync(new Plan { Root = relation }, observer, stream.Token))
            {
                if (response.Schema?.Struct is { } schema)
                {
                    result.SetColumns(schema.Fields.Select(f => f.Name));
                }

                if (response.ArrowBatch is { } batch)
                {
                    result.Add(batch.Data.Memory);
                    observer.OnRows(result.RowCount);
                }
            }

            return result.Build();
        }
        catch (Exception e) when (interrupt.IsCancellationRequested && e is RpcException or OperationCanceledException)
        {
            throw new OperationCanceledException("The statement was interrupted.", e, interrupt);
        }
        finally
        {
            // Disposing the registration waits for a callback under way, so the Interrupt call it started is seen
            // here, and ends before the stream's source is disposed (even when the statement finished first).
            registration.Dispose();
            await interrupting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Releases the session on the server (Spark 4's ReleaseSession) once the server has answered for it: a session
    /// it never saw is not opened just to be released (through a gateway that could launch an engine).
    /// </summary>
    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _used) == 0)
        {
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ControlCallTimeout);
        await client.ReleaseSessionAsync(
            new ReleaseSessionRequest { SessionId = SessionId, UserContext = UserContext, ClientType = ClientType },
            settings.Headers(),
            cancellationToken: timeout.Token).ResponseAsync.ConfigureAwait(false);
    }

    private async IAsyncEnumerable<ExecutePlanResponse> ExecuteAsync(Plan plan, IExecutionObserver observer, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var request = new ExecutePlanRequest
        {
            SessionId = SessionId,
            UserContext = UserContext,
            ClientType = ClientType,
            OperationId = Guid.NewGuid().ToString(),
            Plan = plan,
        };

        if (_serverSideSessionId is { } observed)
        {
            request.ClientObservedServerSideSessionId = observed;
        }

        _operationId = request.OperationId;
        using var call = client.ExecutePlan(request, settings.Headers(), cancellationToken: cancellationToken);
        var responses = call.ResponseStream.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var _ = responses.ConfigureAwait(false);
        while (true)
        {
            try
            {
                if (!await responses.MoveNextAsync().ConfigureAwait(false))
                {
                    break;
                }
            }
            catch (RpcException e) when (e.Status.DebugException is null)
            {
                // The server answered (with an error): the session exists there now.
                Volatile.Write(ref _used, 1);
                throw;
            }

            var response = responses.Current;
            Volatile.Write(ref _used, 1);
            _serverSideSessionId ??= NullIfEmpty(response.ServerSideSessionId);
            if (response.ExecutionProgress is { } progress)
            {
                observer.OnProgress(progress);
            }

            yield return response;
        }
    }

    private async Task InterruptThenDropAsync(CancellationTokenSource stream)
    {
        try
        {
            if (_operationId is { } operationId)
            {
                using var timeout = new CancellationTokenSource(ControlCallTimeout);
                await client.InterruptAsync(
                    new InterruptRequest
                    {
                        SessionId = SessionId,
                        UserContext = UserContext,
                        ClientType = ClientType,
                        InterruptType = InterruptRequest.Types.InterruptType.OperationId,
                        OperationId = operationId,
                    },
                    settings.Headers(),
                    cancellationToken: timeout.Token).ResponseAsync.ConfigureAwait(false);
                Volatile.Write(ref _used, 1);
            }
        }
        catch (RpcException)
        {
            // The operation may have ended meanwhile, or the engine may not know Interrupt (Spark 3.4): dropping
            // the stream below still stops it there.
        }
        finally
        {
            await stream.CancelAsync().ConfigureAwait(false);
        }
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
