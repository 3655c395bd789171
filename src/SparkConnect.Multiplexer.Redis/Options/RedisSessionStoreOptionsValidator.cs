using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace SparkConnect.Multiplexer.Redis.Options;

/// <summary>Checks the Redis session store's settings at start-up; every problem is reported with its fix.</summary>
internal sealed class RedisSessionStoreOptionsValidator : IValidateOptions<RedisSessionStoreOptions>
{
    private const string Section = RedisSessionStoreOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, RedisSessionStoreOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Configuration))
        {
            errors.Add($"{Section}:Configuration is required: give the Redis endpoints, for example \"127.0.0.1:6379\" or \"redis:6379,password=...,ssl=true\".");
        }
        else
        {
            try
            {
                if (ConfigurationOptions.Parse(options.Configuration).EndPoints.Count == 0)
                {
                    errors.Add($"{Section}:Configuration names no Redis endpoint: start it with host:port, for example \"127.0.0.1:6379\".");
                }
            }
            catch (ArgumentException e)
            {
                errors.Add($"{Section}:Configuration is not a StackExchange.Redis configuration string ({e.Message}); write it as \"host:port,option=value,...\".");
            }
        }

        if (string.IsNullOrEmpty(options.KeyPrefix) || options.KeyPrefix.AsSpan().IndexOfAny("{}") >= 0)
        {
            errors.Add($"{Section}:KeyPrefix must be non-empty and without braces (it is used as the keys' hash tag); the default is \"sparkconnect-gateway\".");
        }

        if (options.Database < -1)
        {
            errors.Add($"{Section}:Database {options.Database} is not a database number: use -1 for the connection's default, or 0 and up.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
