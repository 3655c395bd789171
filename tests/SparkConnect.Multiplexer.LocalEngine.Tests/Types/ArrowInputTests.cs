using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Google.Protobuf;
using Spark.Connect;
using SparkConnect.Multiplexer.LocalEngine.Tests.Infrastructure;
using SparkConnect.Multiplexer.LocalEngine.Types;

namespace SparkConnect.Multiplexer.LocalEngine.Tests.Types;

/// <summary>local_relation data in the Arrow layouts real clients send (Spark 4 sends large strings and binaries).</summary>
[TestClass]
public class ArrowInputTests
{
    /// <summary>A client on the direct path; <see cref="ArrowInputTestsThroughGateway"/> runs every test through the gateway.</summary>
    internal virtual SparkClient Client(string user = "alice") => SharedEngine.Client(user);

    private static ByteString Ipc(Schema schema, RecordBatch batch)
    {
        using var stream = new MemoryStream();
        using (var writer = new ArrowStreamWriter(stream, schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        return ByteString.CopyFrom(stream.ToArray());
    }

    [TestMethod]
    public async Task LocalRelation_LargeViewAndDictionaryColumns_AreAccepted()
    {
        var large = new LargeStringArray.Builder().Append("a").AppendNull().Append("ccc").Build();
        var largeBinary = new LargeBinaryArray.Builder().Append([1, 2]).AppendNull().Append([3]).Build();
        var view = new StringViewArray.Builder().Append("a string longer than twelve bytes").Append("v").AppendNull().Build();
        var binaryView = new BinaryViewArray.Builder().Append([9]).AppendNull().Append([8, 7]).Build();
        var dictionaryType = new DictionaryType(Int32Type.Default, StringType.Default, false);
        var dictionary = new DictionaryArray(dictionaryType, new Int32Array.Builder().Append(1).Append(0).Append(1).Build(), new StringArray.Builder().Append("red").Append("blue").Build());
        var schema = new Schema.Builder()
            .Field(f => f.Name("large").DataType(LargeStringType.Default))
            .Field(f => f.Name("large_bin").DataType(LargeBinaryType.Default))
            .Field(f => f.Name("view").DataType(StringViewType.Default))
            .Field(f => f.Name("bin_view").DataType(BinaryViewType.Default))
            .Field(f => f.Name("color").DataType(dictionaryType))
            .Build();
        using var batch = new RecordBatch(schema, [large, largeBinary, view, binaryView, dictionary], 3);

        var client = Client();
        var (fields, rows, _) = await client.QueryAsync(new Relation { LocalRelation = new LocalRelation { Data = Ipc(schema, batch) } });

        CollectionAssert.AreEqual(new[] { TypeKind.String, TypeKind.Binary, TypeKind.String, TypeKind.Binary, TypeKind.String }, fields.Select(f => f.Type.Kind).ToArray());
        CollectionAssert.AreEqual(new[] { "a", null, "ccc" }, rows.Select(r => r[0]).ToArray());
        CollectionAssert.AreEqual(new byte[] { 1, 2 }, (byte[])rows[0][1]!);
        Assert.IsNull(rows[1][1]);
        CollectionAssert.AreEqual(new[] { "a string longer than twelve bytes", "v", null }, rows.Select(r => r[2]).ToArray());
        CollectionAssert.AreEqual(new byte[] { 8, 7 }, (byte[])rows[2][3]!);
        CollectionAssert.AreEqual(new[] { "blue", "red", "blue" }, rows.Select(r => r[4]).ToArray());
    }

    [TestMethod]
    public async Task LocalRelation_UnsupportedArrowType_IsSparkError()
    {
        var schema = new Schema.Builder().Field(f => f.Name("t").DataType(new Time64Type(TimeUnit.Microsecond))).Build();
        using var batch = new RecordBatch(schema, [new Time64Array.Builder(new Time64Type(TimeUnit.Microsecond)).Append(1L).Build()], 1);
        var error = await Assert.ThrowsExactlyAsync<Grpc.Core.RpcException>(() => Client().QueryAsync(new Relation { LocalRelation = new LocalRelation { Data = Ipc(schema, batch) } }));
        Assert.AreEqual("UNSUPPORTED_DATATYPE", ErrorDetails.Read(error).Metadata["errorClass"]);
    }
}

/// <summary>The same tests through a real gateway that routes each user to an embedded local engine.</summary>
[TestClass]
public sealed class ArrowInputTestsThroughGateway : ArrowInputTests
{
    internal override SparkClient Client(string user = "alice") => SharedGateway.Host.Client(user);
}
