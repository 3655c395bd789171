using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using SparkConnect.Multiplexer.Configuration;
using SparkConnect.Multiplexer.Processes;
using SparkConnect.Multiplexer.Tests.Packaging;

namespace SparkConnect.Multiplexer.Tests.Configuration;

/// <summary>The core package's ConfigurationSchema.json is the configuration the gateway accepts, and is current.</summary>
[TestClass]
public sealed partial class ConfigurationJsonSchemaTests
{
    private const string ShippedPath = "src/SparkConnect.Multiplexer/ConfigurationSchema.json";

    [TestMethod]
    public void ShippedSchema_IsGeneratedFromTheOptionsTypes()
    {
        var expected = Generate().ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }).ReplaceLineEndings("\n") + "\n";
        var shipped = File.ReadAllText(Repository.PathOf(ShippedPath)).ReplaceLineEndings("\n");
        if (shipped != expected)
        {
            var received = Path.Combine(AppContext.BaseDirectory, "ConfigurationSchema.received.json");
            File.WriteAllText(received, expected);
            Assert.Fail($"The options types changed; review {received} and copy it over {ShippedPath} if intended.");
        }
    }

    [TestMethod]
    public void Schema_RefusesUnknownKeys_ListsEnumValues_AndGivesTheDurationFormat()
    {
        var gateway = Generate()["properties"]!["SparkConnectGateway"]!;

        // A misspelt key stops start-up, so the schema must not allow it — except beside the sections packages add.
        Assert.IsFalse(gateway["properties"]!["Sessions"]!["additionalProperties"]!.GetValue<bool>());
        Assert.IsNull(gateway["additionalProperties"], "packages add their sections under SparkConnectGateway");
        var shareLevels = gateway["properties"]!["DefaultShareLevel"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()).ToList();
        CollectionAssert.AreEquivalent(Enum.GetNames<ShareLevel>(), shareLevels);
        var idle = gateway["properties"]!["Sessions"]!["properties"]!["IdleTimeout"]!;
        Assert.IsTrue(Regex.IsMatch("00:30:00", idle["pattern"]!.GetValue<string>()));
        Assert.IsFalse(Regex.IsMatch("10min", idle["pattern"]!.GetValue<string>()));
        Assert.AreEqual("User", gateway["properties"]!["DefaultShareLevel"]!["default"]!.GetValue<string>());
        Assert.IsNotNull(gateway["properties"]!["ProcessEngines"]!["properties"]!["Command"], "the process-engine section sits inside the gateway's");
        StringAssert.Contains(gateway["properties"]!["MaxMessageSize"]!["description"]!.GetValue<string>(), "largest request message");
    }

    private static JsonObject Generate()
    {
        // The process launcher's section stays in the core's schema (it was the core's until it became a package).
        var summaries = new[] { typeof(SparkConnectGatewayOptions), typeof(ProcessEngineOptions) }
            .SelectMany(type => XDocument.Load(Path.ChangeExtension(type.Assembly.Location, ".xml")).Descendants("member"))
            .DistinctBy(m => (string)m.Attribute("name")!)
            .ToDictionary(m => (string)m.Attribute("name")!, m => m.Element("summary"));
        return ConfigurationJsonSchema.Build(
            [(SparkConnectGatewayOptions.SectionName, typeof(SparkConnectGatewayOptions)), (ProcessEngineOptions.SectionName, typeof(ProcessEngineOptions))],
            property => summaries.TryGetValue($"P:{property.DeclaringType!.FullName}.{property.Name}", out var summary) && summary is not null ? Flatten(summary) : null);
    }

    // XML doc summary to one line of text: <see cref="T:A.B"/> becomes B, <c>x</c> becomes x.
    private static string Flatten(XElement summary)
    {
        var text = string.Concat(summary.Nodes().Select(node => node switch
        {
            XText t => t.Value,
            XElement { Name.LocalName: "see" } see => (string?)see.Attribute("langword") ?? ((string?)see.Attribute("cref"))?.Split('.', ':').Last() ?? see.Value,
            XElement e => e.Value,
            _ => "",
        }));
        return Whitespace().Replace(text, " ").Trim();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
