using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace DataWorkspace.AppHost.Publishing;

/// <summary>A value in a published task definition: text (which may name deployment parameters), or a secret ECS reads when the task starts.</summary>
public sealed record EcsValue(string? Text, ParameterResource? Secret)
{
    public static EcsValue Of(string text) => new(text, null);
}

/// <summary>
/// Turns what the graph's environment and argument callbacks give in publish mode into ECS values. A deployment
/// parameter stays a named placeholder (<see cref="Placeholder"/>) that each output fills its own way: the
/// publish-time value in a task definition file, a <c>Ref</c> in the CloudFormation template. A secret parameter
/// or connection string becomes an SSM reference; an endpoint of another service becomes its Service Connect address.
/// </summary>
public static partial class EcsValues
{
    private const char Open = '\u0001';
    private const char Close = '\u0002';

    public static string Placeholder(string parameter) => $"{Open}{parameter}{Close}";

    /// <summary>Calls <paramref name="fill"/> for each parameter named in <paramref name="text"/> and joins the pieces with <paramref name="literal"/> applied to the rest.</summary>
    public static string Fill(string text, Func<string, string> fill, Func<string, string>? literal = null)
    {
        literal ??= s => s;
        var result = new StringBuilder();
        var position = 0;
        foreach (Match match in PlaceholderPattern().Matches(text))
        {
            result.Append(literal(text[position..match.Index])).Append(fill(match.Groups[1].Value));
            position = match.Index + match.Length;
        }

        return result.Append(literal(text[position..])).ToString();
    }

    public static IEnumerable<string> ParametersIn(string text) => PlaceholderPattern().Matches(text).Select(m => m.Groups[1].Value);

    [GeneratedRegex("\u0001([^\u0002]+)\u0002")]
    private static partial Regex PlaceholderPattern();

    public static async Task<EcsValue> ResolveAsync(object? value, string what, CancellationToken cancellationToken)
    {
        switch (value)
        {
            case null:
                return EcsValue.Of("");
            case string text:
                return EcsValue.Of(text);
            case ParameterResource parameter:
                return parameter.Secret || parameter.IsConnectionString ? new(null, parameter) : EcsValue.Of(Placeholder(parameter.Name));
            case ConnectionStringReference reference:
                return await ResolveAsync(reference.Resource.ConnectionStringExpression, what, cancellationToken);
            case IResourceWithConnectionString resource:
                return await ResolveAsync(resource.ConnectionStringExpression, what, cancellationToken);
            case EndpointReference endpoint:
                return EcsValue.Of(Address(endpoint, EndpointProperty.Url, what));
            case EndpointReferenceExpression expression:
                return EcsValue.Of(Address(expression.Endpoint, expression.Property, what));
            case ReferenceExpression { IsConditional: false } expression:
            {
                if (expression.Format == "{0}" && expression.ValueProviders.Count == 1)
                    return await ResolveAsync(expression.ValueProviders[0], what, cancellationToken);
                var parts = new object?[expression.ValueProviders.Count];
                for (var i = 0; i < parts.Length; i++)
                {
                    var part = await ResolveAsync(expression.ValueProviders[i], what, cancellationToken);
                    parts[i] = part.Text ?? throw new InvalidOperationException(
                        $"{what} puts the secret {part.Secret!.Name} inside other text ({expression.ValueExpression}); ECS can only set a whole variable from a secret: give the whole value as one secret parameter.");
                }

                return EcsValue.Of(string.Format(CultureInfo.InvariantCulture, expression.Format, parts));
            }

            default:
                throw new InvalidOperationException($"{what} is a {value.GetType().Name} ({(value as IManifestExpressionProvider)?.ValueExpression ?? value.ToString()}), which the ECS publisher cannot express.");
        }
    }

    /// <summary>Where another service answers inside the cluster: its ECS Service Connect name.</summary>
    private static string Address(EndpointReference endpoint, EndpointProperty property, string what)
    {
        if (!endpoint.Resource.TryGetLastAnnotation<EcsTaskAnnotation>(out var target) || target.HttpPort is not { } port)
            throw new InvalidOperationException($"{what} refers to {endpoint.Resource.Name}'s {endpoint.EndpointName} endpoint, which is not published as an ECS service with an HTTP port.");
        var host = EcsPublishing.ServiceConnectName(endpoint.Resource.Name);
        var portText = port.ToString(CultureInfo.InvariantCulture);
        return property switch
        {
            EndpointProperty.Url => $"http://{host}:{portText}",
            EndpointProperty.Host or EndpointProperty.IPV4Host => host,
            EndpointProperty.Port or EndpointProperty.TargetPort => portText,
            EndpointProperty.HostAndPort => $"{host}:{portText}",
            EndpointProperty.Scheme => "http",
            EndpointProperty.TlsEnabled => "false",
            _ => throw new InvalidOperationException($"{what} asks for the {property} of an endpoint, which the ECS publisher cannot express."),
        };
    }
}
