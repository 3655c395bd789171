namespace SparkConnect.Multiplexer.LocalEngine;

/// <summary>One Spark error class: its name, SQLSTATE, the JVM exception Spark raises for it, and the gRPC code.</summary>
internal sealed record ErrorClass(string Name, string SqlState, string JavaClass, Grpc.Core.StatusCode Code = Grpc.Core.StatusCode.Internal);

/// <summary>The error classes the engine raises (names and SQLSTATEs as Spark's error-conditions.json has them).</summary>
internal static class ErrorClasses
{
    private const string Analysis = "org.apache.spark.sql.AnalysisException";

    public static readonly ErrorClass TableOrViewNotFound = new("TABLE_OR_VIEW_NOT_FOUND", "42P01", Analysis);
    public static readonly ErrorClass UnresolvedColumn = new("UNRESOLVED_COLUMN.WITHOUT_SUGGESTION", "42703", Analysis);
    public static readonly ErrorClass SchemaNotFound = new("SCHEMA_NOT_FOUND", "42704", "org.apache.spark.sql.catalyst.analysis.NoSuchNamespaceException");
    public static readonly ErrorClass CatalogNotFound = new("CATALOG_NOT_FOUND", "42P08", "org.apache.spark.SparkException");
    public static readonly ErrorClass PathNotFound = new("PATH_NOT_FOUND", "42K03", Analysis);
    public static readonly ErrorClass PathAlreadyExists = new("PATH_ALREADY_EXISTS", "42K04", Analysis);
    public static readonly ErrorClass CannotReplaceMissingTable = new("TABLE_OR_VIEW_NOT_FOUND", "42P01", "org.apache.spark.sql.catalyst.analysis.CannotReplaceMissingTableException");
    public static readonly ErrorClass AmbiguousReference = new("AMBIGUOUS_REFERENCE", "42704", Analysis);
    public static readonly ErrorClass UnresolvedRoutine = new("UNRESOLVED_ROUTINE", "42883", Analysis);
    public static readonly ErrorClass ParseSyntaxError = new("PARSE_SYNTAX_ERROR", "42601", "org.apache.spark.sql.catalyst.parser.ParseException");
    public static readonly ErrorClass DatatypeMismatch = new("DATATYPE_MISMATCH", "42K09", Analysis);
    public static readonly ErrorClass TableAlreadyExists = new("TABLE_OR_VIEW_ALREADY_EXISTS", "42P07", Analysis);
    public static readonly ErrorClass CastInvalidInput = new("CAST_INVALID_INPUT", "22018", "org.apache.spark.SparkNumberFormatException");
    public static readonly ErrorClass ArithmeticOverflow = new("ARITHMETIC_OVERFLOW", "22003", "org.apache.spark.SparkArithmeticException");
    public static readonly ErrorClass DivideByZero = new("DIVIDE_BY_ZERO", "22012", "org.apache.spark.SparkArithmeticException");
    public static readonly ErrorClass ConstraintViolation = new("CONSTRAINT_VIOLATION", "23000", "org.apache.spark.SparkRuntimeException");
    public static readonly ErrorClass OperationCanceled = new("OPERATION_CANCELED", "HY008", "org.apache.spark.SparkException");
    public static readonly ErrorClass Internal = new("INTERNAL_ERROR", "XX000", "org.apache.spark.SparkException");
    public static readonly ErrorClass UnsupportedFeature = new("UNSUPPORTED_FEATURE", "0A000", "org.apache.spark.SparkUnsupportedOperationException", Grpc.Core.StatusCode.Unimplemented);
    public static readonly ErrorClass UnsupportedDataType = new("UNSUPPORTED_DATATYPE", "0A000", "org.apache.spark.SparkUnsupportedOperationException");
    public static readonly ErrorClass ConfigNotFound = new("SQL_CONF_NOT_FOUND", "42K0I", "org.apache.spark.SparkNoSuchElementException");
    public static readonly ErrorClass CannotModifyConfig = new("CANNOT_MODIFY_CONFIG", "46110", Analysis);
    public static readonly ErrorClass InsufficientPermissions = new("INSUFFICIENT_PERMISSIONS", "42501", "org.apache.spark.SparkSecurityException");
    public static readonly ErrorClass SessionIdFormat = new("INVALID_HANDLE.FORMAT", "HY000", "org.apache.spark.SparkSQLException", Grpc.Core.StatusCode.InvalidArgument);
    public static readonly ErrorClass SessionClosed = new("INVALID_HANDLE.SESSION_CLOSED", "HY000", "org.apache.spark.SparkSQLException");
    public static readonly ErrorClass SessionNotFound = new("INVALID_HANDLE.SESSION_NOT_FOUND", "HY000", "org.apache.spark.SparkSQLException");
    public static readonly ErrorClass SessionAlreadyExists = new("INVALID_HANDLE.SESSION_ALREADY_EXISTS", "HY000", "org.apache.spark.SparkSQLException");
    public static readonly ErrorClass SessionChanged = new("INVALID_HANDLE.SESSION_CHANGED", "HY000", "org.apache.spark.SparkSQLException");
    public static readonly ErrorClass OperationNotFound = new("INVALID_HANDLE.OPERATION_NOT_FOUND", "HY000", "org.apache.spark.SparkSQLException");
    public static readonly ErrorClass OperationAlreadyExists = new("INVALID_HANDLE.OPERATION_ALREADY_EXISTS", "HY000", "org.apache.spark.SparkSQLException");
    public static readonly ErrorClass CursorPositionNotAvailable = new("INVALID_CURSOR.POSITION_NOT_AVAILABLE", "HY109", "org.apache.spark.SparkSQLException");
    public static readonly ErrorClass CursorDisconnected = new("INVALID_CURSOR.DISCONNECTED", "HY109", "org.apache.spark.SparkSQLException");
}

/// <summary>
/// A Spark-shaped failure: an error class, its message parameters and a message. The service turns it into the
/// gRPC status and <c>grpc-status-details-bin</c> a Spark client expects.
/// </summary>
internal sealed class EngineException : Exception
{
    public EngineException(ErrorClass errorClass, string message, Dictionary<string, string>? parameters = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorClass = errorClass;
        Parameters = parameters ?? [];
    }

    public EngineException()
        : this(ErrorClasses.Internal, "Internal error.")
    {
    }

    public EngineException(string message)
        : this(ErrorClasses.Internal, message)
    {
    }

    public EngineException(string message, Exception innerException)
        : this(ErrorClasses.Internal, message, null, innerException)
    {
    }

    public ErrorClass ErrorClass { get; }

    public IReadOnlyDictionary<string, string> Parameters { get; }

    /// <summary>The message as Spark prints it: <c>[CLASS] text SQLSTATE: xxxxx</c>.</summary>
    public string SparkMessage => $"[{ErrorClass.Name}] {Message} SQLSTATE: {ErrorClass.SqlState}";

    /// <summary>An UNIMPLEMENTED error naming the plan or expression the engine cannot translate.</summary>
    public static EngineException Unsupported(string what)
        => new(ErrorClasses.UnsupportedFeature, $"The local engine does not support {what}.", new() { ["feature"] = what });

    /// <summary>Maps a DuckDB failure to the Spark error class a Spark server would raise for the same mistake.</summary>
    public static EngineException FromDuckDb(Exception error)
    {
        var message = error.Message;
        var firstLine = message.Split('\n', 2)[0].Trim();
        ErrorClass errorClass;
        var parameters = new Dictionary<string, string>();
        if (firstLine.StartsWith("Catalog Error", StringComparison.Ordinal) && firstLine.Contains("does not exist", StringComparison.Ordinal))
        {
            if (firstLine.Contains("Function", StringComparison.Ordinal) || firstLine.Contains("function", StringComparison.Ordinal))
            {
                errorClass = ErrorClasses.UnresolvedRoutine;
                parameters["routineName"] = QuotedName(firstLine);
            }
            else
            {
                errorClass = ErrorClasses.TableOrViewNotFound;
                parameters["relationName"] = QuotedName(firstLine);
            }
        }
        else if (firstLine.StartsWith("Catalog Error", StringComparison.Ordinal) && firstLine.Contains("already exists", StringComparison.Ordinal))
        {
            errorClass = ErrorClasses.TableAlreadyExists;
            parameters["relationName"] = QuotedName(firstLine);
        }
        else if (firstLine.StartsWith("Parser Error", StringComparison.Ordinal))
        {
            errorClass = ErrorClasses.ParseSyntaxError;
            parameters["error"] = firstLine;
            parameters["hint"] = "";
        }
        else if (firstLine.StartsWith("Binder Error", StringComparison.Ordinal) && firstLine.Contains("Ambiguous reference", StringComparison.OrdinalIgnoreCase))
        {
            // A bare column name that both sides of a join have: Spark asks for df["col"] or an alias.
            errorClass = ErrorClasses.AmbiguousReference;
            parameters["name"] = QuotedName(firstLine);
            parameters["referenceNames"] = firstLine;
        }
        else if (firstLine.StartsWith("Binder Error", StringComparison.Ordinal) && firstLine.Contains("not found", StringComparison.OrdinalIgnoreCase))
        {
            errorClass = ErrorClasses.UnresolvedColumn;
            parameters["objectName"] = QuotedName(firstLine);
        }
        else if (firstLine.StartsWith("Binder Error", StringComparison.Ordinal))
        {
            errorClass = ErrorClasses.DatatypeMismatch;
            parameters["sqlExpr"] = firstLine;
        }
        else if (firstLine.StartsWith("Conversion Error", StringComparison.Ordinal))
        {
            errorClass = ErrorClasses.CastInvalidInput;
            parameters["expression"] = firstLine;
        }
        else if (firstLine.StartsWith("Out of Range Error", StringComparison.Ordinal))
        {
            errorClass = firstLine.Contains("zero", StringComparison.OrdinalIgnoreCase) ? ErrorClasses.DivideByZero : ErrorClasses.ArithmeticOverflow;
            parameters["message"] = firstLine;
        }
        else if (firstLine.StartsWith("Constraint Error", StringComparison.Ordinal))
        {
            errorClass = ErrorClasses.ConstraintViolation;
            parameters["message"] = firstLine;
        }
        else if (firstLine.StartsWith("Permission Error", StringComparison.Ordinal))
        {
            // The sandbox (see Service/Sandbox.cs): files outside the data directory, the network, extensions.
            errorClass = ErrorClasses.InsufficientPermissions;
            parameters["report"] = firstLine;
            return new EngineException(errorClass, $"Insufficient privileges: {firstLine}. The local engine reads and writes files only in its data directory (LocalEngine:DataDirectory) and installs or loads no extensions.", parameters, error);
        }
        else if (firstLine.StartsWith("Invalid Input Error", StringComparison.Ordinal)
            && (firstLine.Contains("configuration has been locked", StringComparison.Ordinal) || firstLine.Contains("while database is running", StringComparison.Ordinal) || firstLine.Contains("when enable_external_access is disabled", StringComparison.Ordinal)))
        {
            errorClass = ErrorClasses.CannotModifyConfig;
            parameters["key"] = QuotedName(firstLine);
            parameters["docroot"] = "https://spark.apache.org/docs/latest";
            return new EngineException(errorClass, $"Cannot modify the value of the engine setting {parameters["key"]}: the local engine's DuckDB configuration is locked. {firstLine}", parameters, error);
        }
        else if (firstLine.StartsWith("Not implemented Error", StringComparison.Ordinal))
        {
            errorClass = ErrorClasses.UnsupportedFeature with { Code = Grpc.Core.StatusCode.Internal };
            parameters["feature"] = firstLine;
        }
        else
        {
            errorClass = ErrorClasses.Internal;
            parameters["message"] = firstLine;
        }

        // DuckDB's "LINE 1: ..." context quotes the engine's generated SQL, not the user's: leave it out.
        var context = message.IndexOf("\nLINE ", StringComparison.Ordinal);
        var text = (context < 0 ? message : message[..context]).Trim();
        return new EngineException(errorClass, text, parameters, error);
    }

    private static string QuotedName(string line)
    {
        var start = line.IndexOf(" with name ", StringComparison.Ordinal);
        if (start >= 0)
        {
            var rest = line[(start + " with name ".Length)..];
            var end = rest.IndexOf(' ', StringComparison.Ordinal);
            return "`" + (end < 0 ? rest : rest[..end]).Trim('"', '!') + "`";
        }

        var quote = line.IndexOf('"', StringComparison.Ordinal);
        if (quote >= 0)
        {
            var close = line.IndexOf('"', quote + 1);
            if (close > quote)
            {
                return "`" + line[(quote + 1)..close] + "`";
            }
        }

        return line;
    }
}
