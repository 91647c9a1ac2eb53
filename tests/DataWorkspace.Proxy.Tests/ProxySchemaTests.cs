using DataWorkspace.DataProtection;
using DataWorkspace.Proxy.Schema;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using DataWorkspace.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace DataWorkspace.Proxy.Tests;

/// <summary>The proxy's own schema, made by its own migration step on a real PostgreSQL.</summary>
public sealed class ProxySchemaTests(PostgresCluster postgres) : IClassFixture<PostgresCluster>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public void The_scripts_are_in_the_assembly_in_the_order_they_are_applied()
    {
        var scripts = ProxySchema.Scripts();

        Assert.Equal("0001_sessions", scripts[0].Id);
        Assert.Contains("CREATE TABLE proxy.sessions", scripts[0].Sql);
        Assert.Equal(scripts.Select(script => script.Id).Order(StringComparer.Ordinal), scripts.Select(script => script.Id));
    }

    [Fact]
    public async Task The_migration_step_makes_the_database_and_the_proxy_schema_and_applies_each_script_once()
    {
        var connectionString = postgres.ConnectionString("catalogue_" + Guid.NewGuid().ToString("N")[..12]);

        var first = await ProxySchema.MigrateAsync([ProxySchema.Command, $"--ConnectionStrings:catalogue={connectionString}"]);
        // Replicas of the step started together, and a later run: the lock lets one apply and the others find it done.
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ProxySchema.ApplyAsync(connectionString, NullLogger.Instance, Cancel)));

        Assert.Equal(0, first);
        Assert.Equal(ProxySchema.Scripts().Count, await Sql.ScalarAsync<long>(connectionString, $"SELECT count(*) FROM {ProxySchema.History}"));
        await Sql.ScalarAsync<object>(connectionString, $"INSERT INTO {ProxySchema.Sessions} (id, user_id, ticket, created_at, expires_at) VALUES ('k', 'u', '\\x00', now(), now() + interval '1 hour')");
        Assert.True(await Sql.ScalarAsync<bool>(connectionString, $"SELECT checked_at <= now() FROM {ProxySchema.Sessions} WHERE id = 'k'"));
        await Sql.ScalarAsync<object>(connectionString, $"INSERT INTO {ProxySchema.DataProtectionKeys} (friendly_name, xml) VALUES ('key-1', '<key/>')");
        // The web app's tables are not the proxy's to make.
        Assert.Equal(0L, await Sql.ScalarAsync<long>(connectionString, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"));
    }

    [Fact]
    public async Task The_key_ring_gets_one_first_key_which_every_replica_protects_and_reads_with()
    {
        var connectionString = postgres.ConnectionString("catalogue_" + Guid.NewGuid().ToString("N")[..12]);
        await DataWorkspace.Migrations.PostgresDatabase.EnsureExistsAsync(connectionString, NullLogger.Instance, Cancel);
        await ProxySchema.ApplyAsync(connectionString, NullLogger.Instance, Cancel);

        // Migration steps started together (a deployment's one-off task run twice) make one key between them.
        var made = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => CatalogueKeyRing.EnsureKeyAsync(connectionString, ProxySchema.DataProtectionKeys, Cancel)));
        // Two replicas then start together: each reads that key rather than making its own.
        await using var replicaA = Replica(connectionString);
        await using var replicaB = Replica(connectionString);
        var protectedByA = replicaA.GetDataProtector("sessions").Protect("a session");

        Assert.Equal([false, false, true], made.Order());
        Assert.Equal("a session", replicaB.GetDataProtector("sessions").Unprotect(protectedByA));
        Assert.Equal(1L, await Sql.ScalarAsync<long>(connectionString, $"SELECT count(*) FROM {ProxySchema.DataProtectionKeys}"));
        Assert.False(await CatalogueKeyRing.EnsureKeyAsync(connectionString, ProxySchema.DataProtectionKeys, Cancel));
    }

    /// <summary>The proxy's Data Protection as Program.cs sets it up, on its own data source.</summary>
    private static ServiceProvider Replica(string connectionString)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        services.AddDataProtection().SetApplicationName("DataWorkspace.Proxy").PersistKeysToCatalogue(ProxySchema.DataProtectionKeys);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task A_database_that_cannot_be_reached_fails_the_step_with_an_exit_code()
    {
        var unreachable = new NpgsqlConnectionStringBuilder(postgres.ConnectionString("catalogue")) { Port = Ports.Free(), Timeout = 2 }.ConnectionString;

        Assert.Equal(1, await ProxySchema.MigrateAsync([ProxySchema.Command, $"--ConnectionStrings:catalogue={unreachable}"]));
    }
}
