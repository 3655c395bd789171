using System.Buffers;
using System.Text;

namespace SparkConnect.Multiplexer.Protocol;

/// <summary>
/// The Spark confs that <c>SET key = value</c> / <c>RESET key</c> statements in a request's plans would change, so the
/// Config deny-list cannot be sidestepped with <c>spark.sql("SET ...")</c>. Only read when a deny-list is configured.
/// </summary>
/// <remarks>
/// SQL can sit anywhere in a plan: <c>sql_command</c>, a root <c>sql</c> relation, a <c>sql</c> relation nested under
/// any other relation, and the plans of AnalyzePlan (Spark runs a SQL relation's commands eagerly while analysing it).
/// Rather than follow every relation type of every Spark version, the scan reads the raw request bytes in one pass:
/// protobuf stores strings verbatim, so every SQL text's statements appear as they are. The price is that it errs
/// towards refusing — a string literal or comment that reads <c>SET spark.denied.key=...</c> is refused too — and the
/// syntax followed is Spark's own for SET (<c>SparkSqlParser</c>: an unquoted key of <c>[A-Za-z0-9_.:\\]</c>, or a
/// back-quoted one, then <c>=</c>). SQL built at run time (<c>EXECUTE IMMEDIATE</c> of a computed string) cannot be
/// seen by any proxy; protect what must not change in the engine's own configuration as well.
/// </remarks>
internal static class PlanSql
{
    private const int PlanField = 3;
    private const int CompressedOperationField = 3;

    /// <summary>AnalyzePlanRequest analyses whose field 1 is a Plan (schema, explain, tree_string, is_local, is_streaming, input_files, semantic_hash).</summary>
    private static readonly int[] AnalyzeSinglePlanFields = [2, 3, 4, 5, 6, 7, 11];

    /// <summary>AnalyzePlanRequest.same_semantics: target_plan = 1, other_plan = 2.</summary>
    private const int AnalyzeSameSemanticsField = 10;

    private const int MaxQuotedKeyLength = 1024;

    /// <summary>The conf keys that SET / RESET statements anywhere in <paramref name="request"/> would change.</summary>
    public static IReadOnlyList<string> ChangedConfKeys(ReadOnlySequence<byte> request)
    {
        List<string>? keys = null;
        var reader = new SequenceReader<byte>(request);
        while (reader.TryAdvanceToAny("sS"u8, advancePastDelimiter: false))
        {
            if (TryReadChange(reader, out var key))
            {
                (keys ??= []).Add(key);
            }

            reader.Advance(1);
        }

        return keys ?? (IReadOnlyList<string>)[];
    }

    /// <summary>
    /// Whether an ExecutePlan or AnalyzePlan request carries a compressed plan (Spark 4.1 <c>Plan.compressed_operation</c>),
    /// whose SQL the scan cannot read.
    /// </summary>
    public static bool HasCompressedPlan(string method, ReadOnlySequence<byte> request)
    {
        var plans = new List<ReadOnlySequence<byte>>();
        if (method == "ExecutePlan")
        {
            plans.AddRange(ProtoWire.LengthDelimitedFields(request, PlanField));
        }
        else if (method == "AnalyzePlan")
        {
            foreach (var field in AnalyzeSinglePlanFields)
            {
                foreach (var analysis in ProtoWire.LengthDelimitedFields(request, field))
                {
                    plans.AddRange(ProtoWire.LengthDelimitedFields(analysis, 1));
                }
            }

            foreach (var sameSemantics in ProtoWire.LengthDelimitedFields(request, AnalyzeSameSemanticsField))
            {
                plans.AddRange(ProtoWire.LengthDelimitedFields(sameSemantics, 1));
                plans.AddRange(ProtoWire.LengthDelimitedFields(sameSemantics, 2));
            }
        }

        return plans.Exists(plan => ProtoWire.LengthDelimitedFields(plan, CompressedOperationField).Count > 0);
    }

    /// <summary>Reads <c>SET key =</c> or <c>RESET key</c> where <paramref name="reader"/> stands on the S of SET.</summary>
    private static bool TryReadChange(SequenceReader<byte> reader, out string key)
    {
        key = "";
        var isReset = IsReset(reader);
        if (!reader.TryRead(out _) || !TryReadLetter(ref reader, 'e') || !TryReadLetter(ref reader, 't'))
        {
            return false;
        }

        var spaces = SkipWhitespace(ref reader);
        if (reader.TryPeek(out var first) && first == '`')
        {
            if (!TryReadQuotedKey(ref reader, out key))
            {
                return false;
            }
        }
        else if (spaces == 0 || !TryReadPlainKey(ref reader, out key))
        {
            return false;
        }

        // "SET key" alone only reads the value; "RESET key" changes it.
        SkipWhitespace(ref reader);
        return isReset || (reader.TryPeek(out var next) && next == '=');
    }

    private static bool IsReset(SequenceReader<byte> reader)
    {
        if (reader.Consumed < 2)
        {
            return false;
        }

        reader.Rewind(2);
        return TryReadLetter(ref reader, 'r') && TryReadLetter(ref reader, 'e');
    }

    private static bool TryReadLetter(ref SequenceReader<byte> reader, char lower)
        => reader.TryRead(out var b) && (b | 0x20) == lower;

    private static int SkipWhitespace(ref SequenceReader<byte> reader)
    {
        var skipped = 0;
        while (reader.TryPeek(out var b) && b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0B or 0x0C)
        {
            reader.Advance(1);
            skipped++;
        }

        return skipped;
    }

    private static bool TryReadPlainKey(ref SequenceReader<byte> reader, out string key)
    {
        var start = reader.Position;
        var length = 0;
        while (reader.TryPeek(out var b) && (char.IsAsciiLetterOrDigit((char)b) || b is (byte)'_' or (byte)'.' or (byte)':' or (byte)'\\' or (byte)'-'))
        {
            reader.Advance(1);
            length++;
        }

        key = length > 0 ? Encoding.ASCII.GetString(reader.Sequence.Slice(start, length)) : "";
        return length > 0;
    }

    /// <summary>A back-quoted key; a doubled back quote stands for one.</summary>
    private static bool TryReadQuotedKey(ref SequenceReader<byte> reader, out string key)
    {
        key = "";
        reader.Advance(1);
        var bytes = new List<byte>();

        // Bounded, so a request full of unclosed "SET `" cannot make the scan quadratic; Spark conf keys are short.
        while (bytes.Count < MaxQuotedKeyLength && reader.TryRead(out var b))
        {
            if (b == '`')
            {
                if (reader.TryPeek(out var next) && next == '`')
                {
                    reader.Advance(1);
                }
                else
                {
                    key = Encoding.UTF8.GetString([.. bytes]).Trim();
                    return key.Length > 0;
                }
            }

            bytes.Add(b);
        }

        return false;
    }
}
