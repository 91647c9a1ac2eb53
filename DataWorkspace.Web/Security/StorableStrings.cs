using System.Text.Json;
using System.Text.Json.Serialization;

namespace DataWorkspace.Web.Security;

/// <summary>
/// Strings read from JSON bodies (and property names) must be <see cref="StorableText"/>: a NUL that JSON allows
/// (<c>"\u0000"</c>) would otherwise reach PostgreSQL and fail there. Writing is unchanged.
/// </summary>
public sealed class StorableStrings : JsonConverter<string>
{
    public override bool HandleNull => false;

    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => Checked(ref reader);

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => Checked(ref reader);

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WritePropertyName(value);

    private static string Checked(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName))
            throw new JsonException($"expected a string, found {reader.TokenType}.");
        string value;
        try
        {
            value = reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // The reader refuses an escaped lone surrogate ("\ud800") as it unescapes it.
            throw new UnstorableJsonText(StorableText.BrokenCharacter);
        }

        return StorableText.Problem(value, StorableText.JsonTextLength) is { } problem ? throw new UnstorableJsonText(problem) : value;
    }
}

/// <summary>A JSON string the portal cannot take; the serializer adds the path of the value (<c>$.title</c>).</summary>
public sealed class UnstorableJsonText(string problem) : JsonException(problem);
