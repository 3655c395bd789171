namespace SparkConnect.Multiplexer.Tests.Packaging;

/// <summary>The README's embedding example is the sample that CI builds and the consumer test compiles.</summary>
[TestClass]
public sealed class ReadmeTests
{
    [TestMethod]
    public void EmbeddingBlock_IsTheEmbeddingSampleProgram()
    {
        var readme = File.ReadAllText(Repository.PathOf("README.md")).ReplaceLineEndings("\n");
        var program = File.ReadAllText(Repository.PathOf("samples/SparkConnect.Multiplexer.Embedding/Program.cs")).ReplaceLineEndings("\n");
        const string Begin = "<!-- embedding-sample:begin -->\n```csharp\n";
        const string End = "```\n<!-- embedding-sample:end -->";

        var start = readme.IndexOf(Begin, StringComparison.Ordinal);
        var end = readme.IndexOf(End, StringComparison.Ordinal);
        Assert.IsTrue(start >= 0 && end > start, "README.md has lost its embedding-sample markers");

        Assert.AreEqual(program, readme[(start + Begin.Length)..end], "README.md's embedding block differs from samples/SparkConnect.Multiplexer.Embedding/Program.cs: copy the file into the block");
    }
}
