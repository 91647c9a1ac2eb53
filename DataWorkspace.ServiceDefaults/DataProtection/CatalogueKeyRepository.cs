using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace DataWorkspace.DataProtection;

/// <summary>
/// Keeps ASP.NET Core Data Protection keys in the catalogue database, so session cookies and antiforgery tokens stay
/// valid across restarts and replicas. The table is created by the catalogue migrations.
/// </summary>
public sealed class CatalogueKeyRepository(NpgsqlDataSource dataSource) : IXmlRepository
{
    public const string Table = "data_protection_keys";

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var command = dataSource.CreateCommand($"SELECT xml FROM {Table} ORDER BY id");
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read()) elements.Add(XElement.Parse(reader.GetString(0)));
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var command = dataSource.CreateCommand(
            $"INSERT INTO {Table} (friendly_name, xml) VALUES ($1, $2) ON CONFLICT (friendly_name) DO NOTHING");
        command.Parameters.Add(new NpgsqlParameter { Value = friendlyName });
        command.Parameters.Add(new NpgsqlParameter { Value = element.ToString(SaveOptions.DisableFormatting) });
        command.ExecuteNonQuery();
    }
}

public static class CatalogueKeyRepositoryExtensions
{
    /// <summary>
    /// Data Protection with keys in the catalogue database. Needs an <see cref="NpgsqlDataSource"/> for the catalogue
    /// registered (AddNpgsqlDataSource("catalogue")).
    /// </summary>
    public static IDataProtectionBuilder PersistKeysToCatalogue(this IDataProtectionBuilder builder)
    {
        builder.Services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(services =>
            new ConfigureOptions<KeyManagementOptions>(options =>
                options.XmlRepository = new CatalogueKeyRepository(services.GetRequiredService<NpgsqlDataSource>())));
        return builder;
    }
}
