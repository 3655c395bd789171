using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SparkConnect.Multiplexer.Authentication;

/// <summary>Checks at start-up that the configured schemes exist in the host and lists every problem with its fix.</summary>
internal sealed class HostSchemeAuthenticationOptionsValidator(IServiceProvider services) : IValidateOptions<HostSchemeAuthenticationOptions>
{
    private const string Section = HostSchemeAuthenticationOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, HostSchemeAuthenticationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        var schemes = services.GetService<IAuthenticationSchemeProvider>();
        if (schemes is null)
        {
            errors.Add($"The host has no ASP.NET Core authentication: call services.AddAuthentication() and add the schemes named in {Section}:Schemes.");
        }
        else
        {
            // The default provider answers synchronously; this runs once, at start-up.
            var known = schemes.GetAllSchemesAsync().GetAwaiter().GetResult().Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
            for (var i = 0; i < options.Schemes.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(options.Schemes[i]))
                {
                    errors.Add($"{Section}:Schemes:{i} is empty: name a registered scheme ({string.Join(", ", known)}) or remove the entry.");
                }
                else if (!known.Contains(options.Schemes[i]))
                {
                    errors.Add($"{Section}:Schemes:{i} '{options.Schemes[i]}' is not a registered authentication scheme: register it (services.AddAuthentication().AddXxx(\"{options.Schemes[i]}\")) or use one of: {(known.Count == 0 ? "(none registered)" : string.Join(", ", known))}.");
                }
            }
        }

        if (options.UserClaims.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add($"{Section}:UserClaims has an empty entry: name a claim type or remove the entry.");
        }

        if (options.GroupClaims.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add($"{Section}:GroupClaims has an empty entry: name a claim type or remove the entry.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
