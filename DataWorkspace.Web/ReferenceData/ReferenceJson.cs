using System.Text.Json;
using System.Text.Json.Serialization;

namespace DataWorkspace.Web.ReferenceData;

public static class ReferenceJson
{
    /// <summary>Column definitions are stored as JSON with the type by name, so the stored form reads well in SQL.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };
}
