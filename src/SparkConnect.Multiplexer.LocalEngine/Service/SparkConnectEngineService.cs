using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Execution;
using SparkConnect.Multiplexer.LocalEngine.Internal;
using SparkConnect.Multiplexer.LocalEngine.Rpc;
using SparkConnect.Multiplexer.LocalEngine.Sessions;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Service;

/// <summary>The Spark Connect service of one local engine.</summary>
internal sealed class SparkConnectEngineService : SparkConnectService.SparkConnectServiceBase
{
    private readonly EngineState _state;
    private readonly ILogger _logger;

    public SparkConnectEngineService(EngineState state, ILogger<SparkConnectEngineService> logger)
    {
        _state = state;
        _logger = logger;
    }

    private LocalEngineOptions Options => _state.Options;

    public override async Task ExecutePlan(ExecutePlanRequest request, IServerStreamWriter<ExecutePlanResponse> responseStream, ServerCallContext context)
    {
        var session = await SessionAsync(request.UserContext, request.SessionId, request.ClientObservedServerSideSessionId).ConfigureAwait(false);
        await GuardAsync(session, async () =>
        {
            SweepAbandoned(session);
            var operationId = request.HasOperationId ? request.OperationId : Guid.NewGuid().ToString();
            if (request.HasOperationId && !Guid.TryParse(operationId, out _))
            {
                throw new EngineException(ErrorClasses.SessionIdFormat, $"The handle {operationId} is invalid. Handle must be an UUID string.", new() { ["handle"] = operationId });
            }

            var reattachable = request.RequestOptions.Any(o => o.ReattachOptions?.Reattachable == true);
            var operation = new ExecuteOperation(operationId, [.. request.Tags], reattachable, Options.RetryBufferBytes);
            if (!session.Operations.TryAdd(operationId, operation))
            {
                throw new EngineException(ErrorClasses.OperationAlreadyExists, $"The handle {operationId} is invalid. Handle already exists.", new() { ["handle"] = operationId });
            }

            _ = Task.Run(() => ProduceAsync(session, operation, request.Plan));
            await StreamAsync(session, operation, null, responseStream, context).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    public override async Task ReattachExecute(ReattachExecuteRequest request, IServerStreamWriter<ExecutePlanResponse> responseStream, ServerCallContext context)
    {
        var session = await SessionAsync(request.UserContext, request.SessionId, request.ClientObservedServerSideSessionId).ConfigureAwait(false);
        await GuardAsync(session, async () =>
        {
            if (!session.Operations.TryGetValue(request.OperationId, out var operation))
            {
                throw new EngineException(ErrorClasses.OperationNotFound, $"The handle {request.OperationId} is invalid. Operation not found.", new() { ["handle"] = request.OperationId });
            }

            if (!operation.Reattachable)
            {
                throw new EngineException(ErrorClasses.OperationNotFound, $"The operation {request.OperationId} is not reattachable.", new() { ["handle"] = request.OperationId });
            }

            await StreamAsync(session, operation, request.HasLastResponseId ? request.LastResponseId : null, responseStream, context).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    private async Task ProduceAsync(EngineSession session, ExecuteOperation operation, Plan plan)
    {
        var token = operation.Cancellation;
        async ValueTask Emit(ExecutePlanResponse response, CancellationToken cancellationToken)
        {
            response.SessionId = session.SessionId;
            response.ServerSideSessionId = session.ServerSideSessionId;
            await operation.AddAsync(response, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var sql = QueryRunner.SessionSql(session, token);
            var translator = new PlanTranslator(sql, _state.Files);
            await using var progress = new ProgressReporter(session.Connection, response =>
            {
                response.SessionId = session.SessionId;
                response.ServerSideSessionId = session.ServerSideSessionId;
                return operation.TryAdd(response);
            }, token);
            switch (plan?.OpTypeCase)
            {
                case Plan.OpTypeOneofCase.Root:
                    await _state.Runner.RunAsync(session, translator.Translate(plan.Root), Emit, token).ConfigureAwait(false);
                    break;
                case Plan.OpTypeOneofCase.Command when plan.Command.CommandTypeCase == Command.CommandTypeOneofCase.SqlCommand:
                    await Emit(await SqlCommandAsync(session, plan.Command.SqlCommand, token).ConfigureAwait(false), token).ConfigureAwait(false);
                    break;
                case Plan.OpTypeOneofCase.Command when plan.Command.CommandTypeCase == Command.CommandTypeOneofCase.CreateDataframeView:
                    var view = plan.Command.CreateDataframeView;
                    var viewSql = translator.ToSql(view.Input);
                    await QueryRunner.ExecuteNonQueryAsync(session, $"CREATE {(view.Replace ? "OR REPLACE " : "")}TEMP VIEW {SqlText.Identifier(view.Name)} AS {viewSql}", token).ConfigureAwait(false);
                    break;
                case Plan.OpTypeOneofCase.Command when plan.Command.CommandTypeCase == Command.CommandTypeOneofCase.WriteOperation:
                    await DataWriter.WriteAsync(session, translator, sql, _state.Files, plan.Command.WriteOperation, token).ConfigureAwait(false);
                    break;
                case Plan.OpTypeOneofCase.Command when plan.Command.CommandTypeCase == Command.CommandTypeOneofCase.WriteOperationV2:
                    await DataWriter.WriteV2Async(session, translator, sql, plan.Command.WriteOperationV2, token).ConfigureAwait(false);
                    break;
                case Plan.OpTypeOneofCase.Command:
                    throw EngineException.Unsupported($"the command '{plan.Command.CommandTypeCase}'");
                default:
                    throw EngineException.Unsupported($"the plan '{plan?.OpTypeCase}'");
            }

            await progress.CompleteAsync().ConfigureAwait(false);
            await Emit(new ExecutePlanResponse { ResultComplete = new ExecutePlanResponse.Types.ResultComplete() }, token).ConfigureAwait(false);
            operation.Complete(null);
        }
        catch (OperationCanceledException error) when (token.IsCancellationRequested)
        {
            operation.Complete(new EngineException(ErrorClasses.OperationCanceled, "Operation was cancelled by an interrupt.", [], error));
        }
        catch (Exception error)
        {
            operation.Complete(error);
        }
    }

    /// <summary>
    /// SQL commands run eagerly when they are not queries (DDL/DML), as Spark does; a query comes back as the SQL
    /// relation the client then executes.
    /// </summary>
    private static async Task<ExecutePlanResponse> SqlCommandAsync(EngineSession session, SqlCommand command, CancellationToken cancellationToken)
    {
        Relation input;
        if (command.Input is { } relation)
        {
            input = relation;
        }
        else
        {
#pragma warning disable CS0612 // The deprecated sql field is how older clients (3.4) send the text.
            input = new Relation { Sql = new SQL { Query = command.Sql } };
            input.Sql.Args.Add(command.Args);
            input.Sql.PosArgs.Add(command.PosArgs);
#pragma warning restore CS0612
        }

        var result = new ExecutePlanResponse.Types.SqlCommandResult();
        if (input.RelTypeCase == Relation.RelTypeOneofCase.Sql && !PlanTranslator.IsQuery(input.Sql.Query))
        {
            await QueryRunner.ExecuteNonQueryAsync(session, input.Sql.Query, cancellationToken).ConfigureAwait(false);
            result.Relation = new Relation { LocalRelation = new LocalRelation { Data = PlanTranslator.EmptyIpc() } };
        }
        else
        {
            result.Relation = input;
        }

        return new ExecutePlanResponse { SqlCommandResult = result };
    }

    private async Task StreamAsync(EngineSession session, ExecuteOperation operation, string? lastResponseId, IServerStreamWriter<ExecutePlanResponse> stream, ServerCallContext context)
    {
        var (index, generation) = operation.Attach(lastResponseId);
        var started = DateTimeOffset.UtcNow;
        var finished = false;
        try
        {
            while (true)
            {
                // A reattachable stream ends after MaxStreamDuration; the client reattaches where it stopped.
                if (operation.Reattachable && DateTimeOffset.UtcNow - started > Options.MaxStreamDuration)
                {
                    return;
                }

                var response = await operation.NextAsync(index, generation, context.CancellationToken).ConfigureAwait(false);
                if (response is null)
                {
                    finished = true;
                    return;
                }

                await stream.WriteAsync(response, context.CancellationToken).ConfigureAwait(false);
                operation.MarkSent(index);
                index++;
            }
        }
        catch
        {
            finished = operation.IsCompleted;
            throw;
        }
        finally
        {
            operation.Detach(generation);
            if (!operation.Reattachable)
            {
                // Nobody can come back for a non-reattachable operation: stop its query and forget it.
                operation.Cancel();
                session.Operations.TryRemove(operation.OperationId, out _);
            }
            else if (finished)
            {
                // Kept until ReleaseExecute (or the abandoned sweep), so a late reattach still finds the end.
            }
        }
    }

    private void SweepAbandoned(EngineSession session)
    {
        var cutoff = DateTimeOffset.UtcNow - Options.AbandonedOperationTimeout;
        foreach (var operation in session.Operations.Values)
        {
            if (!operation.IsAttached && operation.LastDetached < cutoff && session.Operations.TryRemove(operation.OperationId, out _))
            {
                operation.Cancel();
            }
        }
    }

    public override async Task<AnalyzePlanResponse> AnalyzePlan(AnalyzePlanRequest request, ServerCallContext context)
    {
        var session = await SessionAsync(request.UserContext, request.SessionId, request.ClientObservedServerSideSessionId).ConfigureAwait(false);
        return await GuardAsync(session, async () =>
        {
            var token = context.CancellationToken;
            var response = new AnalyzePlanResponse { SessionId = session.SessionId, ServerSideSessionId = session.ServerSideSessionId };
            switch (request.AnalyzeCase)
            {
                case AnalyzePlanRequest.AnalyzeOneofCase.Schema:
                    var fields = await QueryRunner.SchemaAsync(session, await RootPlanAsync(session, request.Schema.Plan, token).ConfigureAwait(false), token).ConfigureAwait(false);
                    response.Schema = new AnalyzePlanResponse.Types.Schema { Schema_ = EngineType.StructProto(fields) };
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.TreeString:
                    var treeFields = await QueryRunner.SchemaAsync(session, await RootPlanAsync(session, request.TreeString.Plan, token).ConfigureAwait(false), token).ConfigureAwait(false);
                    var level = request.TreeString.HasLevel && request.TreeString.Level > 0 ? request.TreeString.Level : int.MaxValue;
                    response.TreeString = new AnalyzePlanResponse.Types.TreeString { TreeString_ = EngineType.TreeString(treeFields, level) };
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.Explain:
                    var explain = await QueryRunner.ExplainAsync(session, await RootPlanAsync(session, request.Explain.Plan, token).ConfigureAwait(false), token).ConfigureAwait(false);
                    response.Explain = new AnalyzePlanResponse.Types.Explain { ExplainString = explain };
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.IsLocal:
                    response.IsLocal = new AnalyzePlanResponse.Types.IsLocal { IsLocal_ = RootRelation(request.IsLocal.Plan).RelTypeCase == Relation.RelTypeOneofCase.LocalRelation };
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.IsStreaming:
                    _ = await RootPlanAsync(session, request.IsStreaming.Plan, token).ConfigureAwait(false);
                    response.IsStreaming = new AnalyzePlanResponse.Types.IsStreaming { IsStreaming_ = false };
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.InputFiles:
                    response.InputFiles = new AnalyzePlanResponse.Types.InputFiles();
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.SparkVersion:
                    response.SparkVersion = new AnalyzePlanResponse.Types.SparkVersion { Version = _state.VersionString };
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.DdlParse:
                    response.DdlParse = new AnalyzePlanResponse.Types.DDLParse { Parsed = SparkDdlParser.ParseDdl(request.DdlParse.DdlString).ToProto() };
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.SameSemantics:
                    var same = await Task.Run(() => Translator(session, token).SameSemantics(RootRelation(request.SameSemantics.TargetPlan), RootRelation(request.SameSemantics.OtherPlan)), token).ConfigureAwait(false);
                    response.SameSemantics = new AnalyzePlanResponse.Types.SameSemantics { Result = same };
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.SemanticHash:
                    var hash = await Task.Run(() => Translator(session, token).SemanticHash(RootRelation(request.SemanticHash.Plan)), token).ConfigureAwait(false);
                    response.SemanticHash = new AnalyzePlanResponse.Types.SemanticHash { Result = hash };
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.Persist:
                    // Everything already lives in DuckDB; caching would change nothing a client can observe.
                    response.Persist = new AnalyzePlanResponse.Types.Persist();
                    break;
                case AnalyzePlanRequest.AnalyzeOneofCase.Unpersist:
                    response.Unpersist = new AnalyzePlanResponse.Types.Unpersist();
                    break;
                default:
                    throw EngineException.Unsupported($"the analysis '{request.AnalyzeCase}'");
            }

            return response;
        }).ConfigureAwait(false);
    }

    private static Relation RootRelation(Plan plan)
        => plan?.OpTypeCase == Plan.OpTypeOneofCase.Root ? plan.Root : throw EngineException.Unsupported("analysing a plan without a root relation");

    private PlanTranslator Translator(EngineSession session, CancellationToken cancellationToken) => new(QueryRunner.SessionSql(session, cancellationToken), _state.Files);

    /// <summary>Translation may ask the database for columns (a blocking call), so it runs off the request thread.</summary>
    private Task<QueryPlan> RootPlanAsync(EngineSession session, Plan plan, CancellationToken cancellationToken)
        => Task.Run(() => Translator(session, cancellationToken).Translate(RootRelation(plan)), cancellationToken);

    public override async Task<CloneSessionResponse> CloneSession(CloneSessionRequest request, ServerCallContext context)
    {
        EngineSession source;
        try
        {
            // The source must exist: a clone never creates it.
            source = _state.Sessions.Get(request.UserContext?.UserId ?? "", request.SessionId, request.ClientObservedServerSideSessionId);
        }
        catch (EngineException error)
        {
            throw ToRpc(error, null);
        }

        return await GuardAsync(source, async () =>
        {
            var clone = await _state.Sessions.CloneAsync(source, request.HasNewSessionId ? request.NewSessionId : Guid.NewGuid().ToString(), context.CancellationToken).ConfigureAwait(false);
            return new CloneSessionResponse
            {
                SessionId = source.SessionId,
                ServerSideSessionId = source.ServerSideSessionId,
                NewSessionId = clone.SessionId,
                NewServerSideSessionId = clone.ServerSideSessionId,
            };
        }).ConfigureAwait(false);
    }

    public override async Task<ConfigResponse> Config(ConfigRequest request, ServerCallContext context)
    {
        var session = await SessionAsync(request.UserContext, request.SessionId, request.ClientObservedServerSideSessionId).ConfigureAwait(false);
        return await GuardAsync(session, () =>
        {
            var config = session.Config;
            var response = new ConfigResponse { SessionId = session.SessionId, ServerSideSessionId = session.ServerSideSessionId };
            var operation = request.Operation ?? new ConfigRequest.Types.Operation();
            switch (operation.OpTypeCase)
            {
                case ConfigRequest.Types.Operation.OpTypeOneofCase.Set:
                    foreach (var pair in operation.Set.Pairs)
                    {
                        config.Set(pair.Key, pair.HasValue ? pair.Value : "");
                    }

                    break;
                case ConfigRequest.Types.Operation.OpTypeOneofCase.Get:
                    foreach (var key in operation.Get.Keys)
                    {
                        var value = config.Get(key) ?? throw new EngineException(ErrorClasses.ConfigNotFound, $"The SQL config \"{key}\" cannot be found. Please verify that the config exists.", new() { ["sqlConf"] = $"\"{key}\"" });
                        response.Pairs.Add(new KeyValue { Key = key, Value = value });
                    }

                    break;
                case ConfigRequest.Types.Operation.OpTypeOneofCase.GetWithDefault:
                    foreach (var pair in operation.GetWithDefault.Pairs)
                    {
                        var value = config.Get(pair.Key) ?? (pair.HasValue ? pair.Value : null);
                        response.Pairs.Add(value is null ? new KeyValue { Key = pair.Key } : new KeyValue { Key = pair.Key, Value = value });
                    }

                    break;
                case ConfigRequest.Types.Operation.OpTypeOneofCase.GetOption:
                    foreach (var key in operation.GetOption.Keys)
                    {
                        var value = config.Get(key);
                        response.Pairs.Add(value is null ? new KeyValue { Key = key } : new KeyValue { Key = key, Value = value });
                    }

                    break;
                case ConfigRequest.Types.Operation.OpTypeOneofCase.GetAll:
                    foreach (var (key, value) in config.GetAll(operation.GetAll.HasPrefix ? operation.GetAll.Prefix : null))
                    {
                        response.Pairs.Add(new KeyValue { Key = key, Value = value });
                    }

                    break;
                case ConfigRequest.Types.Operation.OpTypeOneofCase.Unset:
                    foreach (var key in operation.Unset.Keys)
                    {
                        config.Unset(key);
                    }

                    break;
                case ConfigRequest.Types.Operation.OpTypeOneofCase.IsModifiable:
                    foreach (var key in operation.IsModifiable.Keys)
                    {
                        response.Pairs.Add(new KeyValue { Key = key, Value = SessionConfig.IsModifiable(key) ? "true" : "false" });
                    }

                    break;
                default:
                    throw EngineException.Unsupported($"the config operation '{operation.OpTypeCase}'");
            }

            return Task.FromResult(response);
        }).ConfigureAwait(false);
    }

    public override async Task<AddArtifactsResponse> AddArtifacts(IAsyncStreamReader<AddArtifactsRequest> requestStream, ServerCallContext context)
    {
        var response = new AddArtifactsResponse();
        EngineSession? session = null;
        string? chunkedName = null;
        using var chunked = new MemoryStream();
        var chunkedOk = true;

        void FinishChunked()
        {
            if (chunkedName is not null)
            {
                if (chunkedOk)
                {
                    session!.Artifacts[chunkedName] = chunked.ToArray();
                }

                response.Artifacts.Add(new AddArtifactsResponse.Types.ArtifactSummary { Name = chunkedName, IsCrcSuccessful = chunkedOk });
                chunkedName = null;
                chunked.SetLength(0);
            }
        }

        while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            var request = requestStream.Current;
            session ??= await SessionAsync(request.UserContext, request.SessionId, request.ClientObservedServerSideSessionId).ConfigureAwait(false);
            switch (request.PayloadCase)
            {
                case AddArtifactsRequest.PayloadOneofCase.Batch:
                    FinishChunked();
                    foreach (var artifact in request.Batch.Artifacts)
                    {
                        var ok = Crc32.Compute(artifact.Data.Data.Span) == artifact.Data.Crc;
                        if (ok)
                        {
                            session.Artifacts[artifact.Name] = artifact.Data.Data.ToByteArray();
                        }

                        response.Artifacts.Add(new AddArtifactsResponse.Types.ArtifactSummary { Name = artifact.Name, IsCrcSuccessful = ok });
                    }

                    break;
                case AddArtifactsRequest.PayloadOneofCase.BeginChunk:
                    FinishChunked();
                    chunkedName = request.BeginChunk.Name;
                    chunkedOk = Crc32.Compute(request.BeginChunk.InitialChunk.Data.Span) == request.BeginChunk.InitialChunk.Crc;
                    chunked.Write(request.BeginChunk.InitialChunk.Data.Span);
                    break;
                case AddArtifactsRequest.PayloadOneofCase.Chunk when chunkedName is not null:
                    chunkedOk &= Crc32.Compute(request.Chunk.Data.Span) == request.Chunk.Crc;
                    chunked.Write(request.Chunk.Data.Span);
                    break;
                default:
                    throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"Unexpected artifact payload {request.PayloadCase}."));
            }
        }

        FinishChunked();
        if (session is not null)
        {
            response.SessionId = session.SessionId;
            response.ServerSideSessionId = session.ServerSideSessionId;
        }

        return response;
    }

    public override async Task<ArtifactStatusesResponse> ArtifactStatus(ArtifactStatusesRequest request, ServerCallContext context)
    {
        var session = await SessionAsync(request.UserContext, request.SessionId, request.ClientObservedServerSideSessionId).ConfigureAwait(false);
        var response = new ArtifactStatusesResponse { SessionId = session.SessionId, ServerSideSessionId = session.ServerSideSessionId };
        foreach (var name in request.Names)
        {
            response.Statuses[name] = new ArtifactStatusesResponse.Types.ArtifactStatus { Exists = session.Artifacts.ContainsKey(name) };
        }

        return response;
    }

    public override async Task<InterruptResponse> Interrupt(InterruptRequest request, ServerCallContext context)
    {
        var session = await SessionAsync(request.UserContext, request.SessionId, request.ClientObservedServerSideSessionId).ConfigureAwait(false);
        var response = new InterruptResponse { SessionId = session.SessionId, ServerSideSessionId = session.ServerSideSessionId };
        foreach (var operation in session.Operations.Values)
        {
            var match = request.InterruptType switch
            {
                InterruptRequest.Types.InterruptType.All => true,
                InterruptRequest.Types.InterruptType.Tag => operation.Tags.Contains(request.OperationTag),
                InterruptRequest.Types.InterruptType.OperationId => operation.OperationId == request.OperationId,
                _ => false,
            };
            if (match && !operation.IsCompleted)
            {
                operation.Cancel();
                response.InterruptedIds.Add(operation.OperationId);
            }
        }

        return response;
    }

    public override async Task<ReleaseExecuteResponse> ReleaseExecute(ReleaseExecuteRequest request, ServerCallContext context)
    {
        var session = await SessionAsync(request.UserContext, request.SessionId, request.ClientObservedServerSideSessionId).ConfigureAwait(false);
        if (session.Operations.TryGetValue(request.OperationId, out var operation))
        {
            if (request.ReleaseCase == ReleaseExecuteRequest.ReleaseOneofCase.ReleaseUntil)
            {
                operation.ReleaseUntil(request.ReleaseUntil.ResponseId);
            }
            else if (session.Operations.TryRemove(request.OperationId, out _))
            {
                operation.Cancel();
            }
        }

        return new ReleaseExecuteResponse { SessionId = session.SessionId, ServerSideSessionId = session.ServerSideSessionId, OperationId = request.OperationId };
    }

    public override async Task<ReleaseSessionResponse> ReleaseSession(ReleaseSessionRequest request, ServerCallContext context)
    {
        var userId = request.UserContext?.UserId ?? "";
        var released = await _state.Sessions.ReleaseAsync(userId, request.SessionId).ConfigureAwait(false);
        return new ReleaseSessionResponse { SessionId = request.SessionId, ServerSideSessionId = released?.ServerSideSessionId ?? "" };
    }

    public override async Task<FetchErrorDetailsResponse> FetchErrorDetails(FetchErrorDetailsRequest request, ServerCallContext context)
    {
        var session = await SessionAsync(request.UserContext, request.SessionId, request.ClientObservedServerSideSessionId).ConfigureAwait(false);
        var response = new FetchErrorDetailsResponse { SessionId = session.SessionId, ServerSideSessionId = session.ServerSideSessionId };
        if (session.Errors.TryRemove(request.ErrorId, out var error))
        {
            var throwable = new FetchErrorDetailsResponse.Types.SparkThrowable { ErrorClass = error.ErrorClass.Name, SqlState = error.ErrorClass.SqlState };
            foreach (var (key, value) in error.Parameters)
            {
                throwable.MessageParameters[key] = value;
            }

            var detail = new FetchErrorDetailsResponse.Types.Error { Message = error.SparkMessage, SparkThrowable = throwable };
            detail.ErrorTypeHierarchy.Add([error.ErrorClass.JavaClass, "java.lang.Exception", "java.lang.Throwable"]);
            response.Errors.Add(detail);
            response.RootErrorIdx = 0;
        }

        return response;
    }

    private Task<EngineSession> SessionAsync(UserContext? user, string sessionId, string? observedServerSideSessionId)
    {
        try
        {
            return Task.FromResult(_state.Sessions.GetOrCreate(user?.UserId ?? "", sessionId, observedServerSideSessionId));
        }
        catch (EngineException error)
        {
            throw ToRpc(error, null);
        }
    }

    private async Task<T> GuardAsync<T>(EngineSession session, Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception error) when (error is not RpcException)
        {
            throw Translate(session, error);
        }
    }

    private async Task GuardAsync(EngineSession session, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The client went away (or cancelled); there is nobody to send an error to.
            throw new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "The call was cancelled."));
        }
        catch (Exception error) when (error is not RpcException)
        {
            throw Translate(session, error);
        }
    }

    private RpcException Translate(EngineSession session, Exception error)
    {
        var engineError = error switch
        {
            EngineException e => e,
            FormatException or InvalidOperationException or ArgumentException or JsonException => new EngineException(ErrorClasses.Internal, error.Message, new() { ["message"] = error.Message }, error),
            _ => new EngineException(ErrorClasses.Internal, error.Message, new() { ["message"] = error.Message }, error),
        };
        EngineLog.OperationFailed(_logger, "-", session.SessionId, engineError.ErrorClass.Name, error);
        return ToRpc(engineError, session);
    }

    /// <summary>
    /// The error as Spark sends it: status INTERNAL (or the class's code), the message, and a google.rpc.Status in
    /// grpc-status-details-bin with an ErrorInfo whose reason is the JVM exception class and whose metadata carries
    /// errorClass, sqlState, messageParameters (JSON) and the errorId for FetchErrorDetails.
    /// </summary>
    internal static RpcException ToRpc(EngineException error, EngineSession? session)
    {
        var info = new ErrorInfo { Reason = error.ErrorClass.JavaClass, Domain = "org.apache.spark" };
        info.Metadata["classes"] = JsonSerializer.Serialize(new[] { error.ErrorClass.JavaClass });
        info.Metadata["errorClass"] = error.ErrorClass.Name;
        info.Metadata["sqlState"] = error.ErrorClass.SqlState;
        info.Metadata["messageParameters"] = JsonSerializer.Serialize(error.Parameters);
        if (session is not null)
        {
            info.Metadata["errorId"] = session.RememberError(error);
        }

        var status = new Rpc.Status { Code = (int)error.ErrorClass.Code, Message = error.SparkMessage };
        status.Details.Add(Any.Pack(info));
        var trailers = new Metadata { { "grpc-status-details-bin", status.ToByteArray() } };
        return new RpcException(new Grpc.Core.Status(error.ErrorClass.Code, error.SparkMessage), trailers);
    }
}

/// <summary>CRC-32 (IEEE, as java.util.zip.CRC32) for artifact chunks.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    public static long Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc ^ 0xFFFFFFFFu;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}
