using System.Text.Json.Serialization;

namespace SparkConnect.Multiplexer.Redis.Sessions;

/// <summary>
/// A session as stored in Redis. Its own shape rather than <see cref="SessionRecord"/> serialized directly, so the
/// stored format changes only on purpose (<see cref="Version"/>), whatever the public record gains.
/// </summary>
internal sealed record StoredSession(
    int Version,
    string SessionId,
    string Owner,
    ShareLevel ShareLevel,
    string KeyOwner,
    string Subdomain,
    string EngineId,
    Uri EngineAddress,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastActivity,
    string? ClientAddress)
{
    public const int CurrentVersion = 1;

    public static StoredSession From(SessionRecord session) => new(
        CurrentVersion,
        session.SessionId,
        session.Owner,
        session.EngineKey.ShareLevel,
        session.EngineKey.Owner,
        session.EngineKey.Subdomain,
        session.EngineId,
        session.EngineAddress,
        session.CreatedAt,
        session.LastActivity,
        session.ClientAddress);

    public SessionRecord ToRecord() => Version == CurrentVersion
        ? new()
        {
            SessionId = SessionId,
            Owner = Owner,
            EngineKey = new() { ShareLevel = ShareLevel, Owner = KeyOwner, Subdomain = Subdomain },
            EngineId = EngineId,
            EngineAddress = EngineAddress,
            CreatedAt = CreatedAt,
            LastActivity = LastActivity,
            ClientAddress = ClientAddress,
        }
        : throw new InvalidOperationException($"Session {SessionId} was stored in Redis in format {Version}; this gateway reads format {CurrentVersion}. Run one gateway version per key prefix.");
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(StoredSession))]
internal sealed partial class StoredSessionJson : JsonSerializerContext;
