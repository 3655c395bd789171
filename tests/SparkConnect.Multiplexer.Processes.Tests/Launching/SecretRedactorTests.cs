namespace SparkConnect.Multiplexer.Processes.Tests.Launching;

[TestClass]
public sealed class SecretRedactorTests
{
    [TestMethod]
    [DataRow("--conf spark.hadoop.fs.s3a.access.key=AKIA123", "--conf spark.hadoop.fs.s3a.access.key=***")]
    [DataRow("--conf spark.hadoop.fs.s3a.secret.key=abc/def+g", "--conf spark.hadoop.fs.s3a.secret.key=***")]
    [DataRow("--conf=spark.ssl.keyPassword=hunter2", "--conf=spark.ssl.keyPassword=***")]
    [DataRow("-Djavax.net.ssl.trustStorePassword=changeit -Xmx1g", "-Djavax.net.ssl.trustStorePassword=*** -Xmx1g")]
    [DataRow("AWS_SECRET_ACCESS_KEY=wJalr export", "AWS_SECRET_ACCESS_KEY=*** export")]
    [DataRow("spark.authenticate.secret: shh and more", "spark.authenticate.secret: *** and more")]
    [DataRow("{\"password\": \"p a s s\", \"user\": \"alice\"}", "{\"password\": \"***\", \"user\": \"alice\"}")]
    [DataRow("{'db.credentials':'xyz'}", "{'db.credentials':'***'}")]
    [DataRow("'spark.connect.authenticate.token=abc'", "'spark.connect.authenticate.token=***'")]
    [DataRow("GET /x?api_key=k1&page=2", "GET /x?api_key=***&page=2")]
    [DataRow("--password hunter2 --name e", "--password *** --name e")]
    [DataRow("authorization: Bearer eyJhbGciOi.x.y", "authorization: Bearer ***")]
    [DataRow("Authorization=Basic dXNlcjpwYXNz", "Authorization=Basic ***")]
    [DataRow("jdbc:postgresql://spark:pw123@db:5432/x", "jdbc:postgresql://spark:***@db:5432/x")]
    [DataRow("spark.executor.memory=4g spark.app.name=etl at 12:30:00", "spark.executor.memory=4g spark.app.name=etl at 12:30:00")]
    [DataRow("http://host:15002/ ready", "http://host:15002/ ready")]
    [DataRow("PASSWORD=", "PASSWORD=")]
    public void Redact_DefaultPatterns_MasksSensitiveValuesOnly(string text, string expected)
        => Assert.AreEqual(expected, SecretRedactor.Default.Redact(text));

    [TestMethod]
    public void Redact_Secret_MaskedWherever_EvenWithoutKey()
    {
        var token = "0123456789abcdef0123456789abcdef";
        Assert.AreEqual("token is *** (and ***x)", SecretRedactor.Default.Redact($"token is {token} (and {token}x)", token));
        Assert.AreEqual("plain ***", new SecretRedactor([]).Redact("plain " + token, token));
    }

    [TestMethod]
    public void Redact_CustomPatterns_ReplaceTheDefaults()
    {
        var redactor = new SecretRedactor(["*.pin", "session*"]);

        Assert.AreEqual("card.pin=*** sessionId=*** access.key=AK", redactor.Redact("card.pin=1234 sessionId=s1 access.key=AK"));
        Assert.IsTrue(redactor.IsSensitiveKey("CARD.PIN"));
        Assert.IsFalse(redactor.IsSensitiveKey("pin.card"));
    }

    [TestMethod]
    public void RedactArguments_SensitiveFlag_MasksTheNextArgumentWhole()
    {
        var arguments = SecretRedactor.Default.RedactArguments(["--name", "e", "--keystore-password", "two words", "--conf", "a.token=t"]).ToList();

        CollectionAssert.AreEqual(new[] { "--name", "e", "--keystore-password", "***", "--conf", "a.token=***" }, arguments);
    }

    [TestMethod]
    [DataRow("*secret*", true)]
    [DataRow("spark.ssl.*", true)]
    [DataRow("*", false)]
    [DataRow("**", false)]
    [DataRow("", false)]
    [DataRow("a b", false)]
    [DataRow("(?i)x", false)]
    public void IsValidPattern(string pattern, bool valid) => Assert.AreEqual(valid, SecretRedactor.IsValidPattern(pattern));
}
