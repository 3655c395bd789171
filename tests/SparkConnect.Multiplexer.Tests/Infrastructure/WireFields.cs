using Google.Protobuf;

namespace SparkConnect.Multiplexer.Tests.Infrastructure;

/// <summary>Field-level views of raw protobuf, independent of the gateway's own parser.</summary>
internal static class WireFields
{
    /// <summary>The message's bytes with every occurrence of top-level field <paramref name="field"/> removed.</summary>
    public static byte[] Without(byte[] message, int field)
    {
        var output = new MemoryStream();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var fieldStart = (int)input.Position - CodedOutputStream.ComputeRawVarint32Size(tag);
            input.SkipLastField();
            var end = (int)input.Position;
            if (WireFormat.GetTagFieldNumber(tag) != field)
            {
                output.Write(message, fieldStart, end - fieldStart);
            }
        }

        return output.ToArray();
    }
}
