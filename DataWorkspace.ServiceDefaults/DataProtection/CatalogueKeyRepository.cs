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
/// valid across restarts and replicas. Each service keeps its keys in a table of its own (id, friendly_name, xml),
/// made by its own migrations.
/// </summary>
public sealed class CatalogueKeyRepository(NpgsqlDataSource dataSource, string table) : IXmlRepository
{
    /// <summary>The web app's table.</summary>
    public const string Table = "data_protection_keys";

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var command = dataSource.CreateCommand($"SELECT xml FROM {table} ORDER BY id");
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read()) elements.Add(XElement.Parse(reader.GetString(0)));
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var command = dataSource.CreateCommand(
            $"INSERT INTO {table} (friendly_name, xml) VALUES ($1, $2) ON CONFLICT (friendly_name) DO NOTHING");
        command.Parameters.Add(new NpgsqlParameter { Value = friendlyName });
        command.Parameters.Add(new NpgsqlParameter { Value = element.ToString(SaveOptions.DisableFormatting) });
        command.ExecuteNonQuery();
    }
}

public static class CatalogueKeyRepositoryExtensions
{
    /// <summary>
    /// Data Protection with keys in the catalogue database. Needs an <see cref="NpgsqlDataSource"/> for the catalogue
    /// registered (AddNpgsqlDataSource("catalogue")) and <paramref name="table"/> made by the service's migrations.
    /// </summary>
    public static IDataProtectionBuilder PersistKeysToCatalogue(this IDataProtectionBuilder builder, string table = CatalogueKeyRepository.Table)
    {
        builder.Services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(services =>
            new ConfigureOptions<KeyManagementOptions>(options =>
                options.XmlRepository = new CatalogueKeyRepository(services.GetRequiredService<NpgsqlDataSource>(), table)));
        return builder;
    }
}

/// <summary>
/// The first key of a service's key ring, made by its migration step before any replica starts. Replicas that start
/// together on an empty table would each make a key of their own and, once past Data Protection's first two minutes,
/// refuse each other's cookies and antiforgery tokens until their daily key ring refresh; one key made beforehand
/// is the one they all read. Later keys are made by the running replicas, days before they are used.
/// </summary>
public static class CatalogueKeyRing
{
    /// <summary>Makes a key, in use from now, when <paramref name="table"/> has none in use now; true when it made one.</summary>
    public static async Task<bool> EnsureKeyAsync(string connectionString, string table, CancellationToken cancellationToken)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Steps started together make one key between them: the later one waits here and finds it.
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(hashtext($1))", connection))
        {
            take.Parameters.Add(new NpgsqlParameter { Value = "DataWorkspace data protection " + table });
            await take.ExecuteNonQueryAsync(cancellationToken);
        }

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDataProtection();
        services.Configure<KeyManagementOptions>(options => options.XmlRepository = new CatalogueKeyRepository(dataSource, table));
        await using var provider = services.BuildServiceProvider();
        var keys = provider.GetRequiredService<IKeyManager>();
        var now = DateTimeOffset.UtcNow;
        if (keys.GetAllKeys().Any(key => !key.IsRevoked && key.ActivationDate <= now && key.ExpirationDate > now)) return false;
        keys.CreateNewKey(now, now + provider.GetRequiredService<IOptions<KeyManagementOptions>>().Value.NewKeyLifetime);
        return true;
    }
}
