using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.ReferenceData;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// Readers of a reference table in the datasets database (the Data Explorer, downloads and tools, each through the
/// user's own login) while an administrator edits it: they keep their access, and are not held up, at every moment.
/// </summary>
public sealed class ReferenceMirrorTests(WebFixture web) : IAsyncDisposable
{
    private readonly CatalogueData data = new(web);
    private readonly PlatformScope app = new(web);
    private readonly PlatformIdentity admin = CatalogueData.NewUser("trade.example") with { Roles = [PlatformIdentity.AdminRole] };
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private T Service<T>() where T : notnull => web.Factory.Services.GetRequiredService<T>();

    /// <summary>
    /// An open dataset whose source is a reference table with two rows, synchronised so that everyone may read it. The
    /// mirror is written by the platform, or made by <paramref name="existingTableSql"/> (as the demo's tables were,
    /// before they became editable) and adopted as it is.
    /// </summary>
    private async Task<(Dataset Dataset, string Table)> ReferenceDatasetAsync(string? existingTableSql = null)
    {
        var dataset = await data.DatasetAsync(AccessType.Open);
        var name = "ref_" + Guid.NewGuid().ToString("N")[..12];
        var table = new ReferenceTable
        {
            DatasetId = dataset.Id,
            TableName = name,
            Columns = [new("code", ReferenceColumnType.Text, true), new("population", ReferenceColumnType.Integer, false)],
        };
        if (existingTableSql is not null)
        {
            // The schema may not be there yet: the first reference table written creates it.
            await Sql.ScalarAsync<object>(web.DatasetsConnectionString,
                $"CREATE SCHEMA IF NOT EXISTS {ReferenceTable.Schema}; " + string.Format(existingTableSql, $"reference.{name}") + $"; INSERT INTO reference.{name} VALUES ('FR', 67000000), ('DE', 83000000)");
            table.Rows = [new() { ReferenceTableId = table.Id, Position = 0, Values = ["FR", "67000000"] }, new() { ReferenceTableId = table.Id, Position = 1, Values = ["DE", "83000000"] }];
        }

        await using (var context = data.Context())
        {
            context.ReferenceTables.Add(table);
            context.Add(new SourceTable { DatasetId = dataset.Id, Name = "Countries", Schema = ReferenceTable.Schema, Table = name });
            await context.SaveChangesAsync(Cancel);
        }

        if (existingTableSql is null) Assert.True((await UploadAsync(dataset, "code,population\nFR,67000000\nDE,83000000\n")).Done);
        await Service<RoleSync>().SyncAsync(Cancel);
        return (dataset, name);
    }

    private Task<ReferenceChange> UploadAsync(Dataset dataset, string csv) =>
        app.WithAsync<ReferenceDataService, ReferenceChange>(async reference =>
            await reference.ReplaceFromCsvAsync((await reference.FindAsync(dataset.Id, Cancel))!, dataset, csv, PlatformScope.Principal(admin), Cancel));

    private Task<ReferenceChange> AddRowAsync(Dataset dataset, params string?[] values) =>
        app.WithAsync<ReferenceDataService, ReferenceChange>(async reference =>
            await reference.AddRowAsync((await reference.FindAsync(dataset.Id, Cancel))!, dataset, values, PlatformScope.Principal(admin), Cancel));

    /// <summary>A user with a portal login: what the Data Explorer and downloads connect with.</summary>
    private async Task<UserLogin> ReaderAsync()
    {
        var reader = CatalogueData.NewUser("partner.example");
        await app.SignInAsync(reader);
        await Service<RoleSync>().SyncAsync(Cancel);
        return await Service<DatabaseLogins>().PortalLoginAsync(reader.UserId, Cancel);
    }

    private static async Task<long> CountAsync(UserLogin login, string table)
    {
        await using var command = login.DataSource.CreateCommand($"SELECT count(*) FROM reference.{table}");
        return (long)(await command.ExecuteScalarAsync(Cancel))!;
    }

    /// <summary>
    /// Holds the lock every role synchronisation takes, so none (of this app or of another test's) can run until it
    /// is disposed: what readers can do meanwhile is what the edit left them.
    /// </summary>
    private async Task<NpgsqlConnection> HoldSynchronisationAsync()
    {
        // Not pooled: closing it must end the session, and the lock with it.
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(web.DatasetsConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand($"SELECT pg_advisory_lock({RoleSync.LockKey})", connection);
        await command.ExecuteNonQueryAsync(Cancel);
        return connection;
    }

    /// <summary>Whether any session waits for a lock the backend <paramref name="pid"/> holds.</summary>
    private Task<bool?> BlocksAnyoneAsync(int pid) =>
        Sql.ScalarAsync<bool?>(web.DatasetsConnectionString, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))", pid);

    [Fact]
    public async Task Readers_query_a_reference_table_right_after_each_kind_of_edit_with_no_synchronisation_in_between()
    {
        var (dataset, table) = await ReferenceDatasetAsync();
        var login = await ReaderAsync();
        Assert.Equal(2L, await CountAsync(login, table));

        await using (await HoldSynchronisationAsync())
        {
            Assert.True((await AddRowAsync(dataset, "IE", "5000000")).Done);
            Assert.Equal(3L, await CountAsync(login, table));

            Assert.True((await UploadAsync(dataset, "code,population\nES,47000000\nIT,59000000\nPT,10000000\nNL,17000000\n")).Done);
            Assert.Equal(4L, await CountAsync(login, table));
        }
    }

    [Fact]
    public async Task An_edit_neither_waits_for_nor_disturbs_a_reader_in_the_middle_of_a_transaction()
    {
        var (dataset, table) = await ReferenceDatasetAsync();
        var login = await ReaderAsync();
        await using var reader = await login.DataSource.OpenConnectionAsync(Cancel);
        await using var transaction = await reader.BeginTransactionAsync(Cancel);
        await using (var read = new NpgsqlCommand($"SELECT count(*) FROM reference.{table}", reader, transaction))
            Assert.Equal(2L, await read.ExecuteScalarAsync(Cancel));
        await using var pid = new NpgsqlCommand("SELECT pg_backend_pid()", reader, transaction);
        var readerPid = (int)(await pid.ExecuteScalarAsync(Cancel))!;

        Task<ReferenceChange> edit;
        var blocked = false;
        await using (await HoldSynchronisationAsync())
        {
            edit = AddRowAsync(dataset, "IE", "5000000");
            // The edit either finishes or is seen queueing behind the reader's open transaction.
            while (!edit.IsCompleted && !(blocked = await BlocksAnyoneAsync(readerPid) == true))
                await Task.Delay(50, Cancel);

            if (!blocked)
            {
                // The same transaction reads on, and sees the new row as soon as the edit commits.
                await using var again = new NpgsqlCommand($"SELECT count(*) FROM reference.{table}", reader, transaction);
                Assert.Equal(3L, await again.ExecuteScalarAsync(Cancel));
            }
        }

        await transaction.RollbackAsync(Cancel);
        Assert.False(blocked, "The edit waited for a reader's open transaction to end.");
        Assert.True((await edit).Done);
        Assert.Equal(3L, await CountAsync(login, table));
    }

    [Fact]
    public async Task A_mirror_whose_columns_differ_from_the_definition_is_rebuilt_and_keeps_every_grant()
    {
        // As the demo's tables were made before they became editable: an int column and a primary key.
        var (dataset, table) = await ReferenceDatasetAsync("CREATE TABLE {0} (code text PRIMARY KEY, population int)");
        var login = await ReaderAsync();
        Assert.Equal(2L, await CountAsync(login, table));
        // A role the platform does not manage (a reporting tool's, say), granted by a database administrator.
        var outsider = "reporting_" + Guid.NewGuid().ToString("N")[..8];
        await Sql.ScalarAsync<object>(web.DatasetsConnectionString,
            $"CREATE ROLE {outsider} LOGIN PASSWORD 'reporting'; GRANT USAGE ON SCHEMA reference TO {outsider}; GRANT SELECT ON reference.{table} TO {outsider}");
        var reporting = new NpgsqlConnectionStringBuilder(web.DatasetsConnectionString) { Username = outsider, Password = "reporting", Pooling = false }.ConnectionString;

        // The same code twice: the definition does not make codes unique, so neither may the mirror.
        Assert.True((await AddRowAsync(dataset, "FR", "68000000")).Done);

        Assert.Equal(3L, await CountAsync(login, table));
        Assert.Equal(2L, await Sql.ScalarAsync<long>(web.DatasetsConnectionString, $"SELECT count(*) FROM reference.{table} WHERE code = 'FR'"));
        Assert.Equal(3L, await Sql.ScalarAsync<long>(reporting, $"SELECT count(*) FROM reference.{table}"));
        Assert.Equal("bigint", await Sql.ScalarAsync<string>(web.DatasetsConnectionString,
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'reference' AND table_name = $1 AND column_name = 'population'", table));
    }

    [Fact]
    public async Task A_rebuild_that_a_long_reader_holds_up_gives_way_and_says_so_while_other_readers_carry_on()
    {
        var (dataset, table) = await ReferenceDatasetAsync("CREATE TABLE {0} (code text PRIMARY KEY, population int)");
        var login = await ReaderAsync();
        await using var reader = await login.DataSource.OpenConnectionAsync(Cancel);
        await using var transaction = await reader.BeginTransactionAsync(Cancel);
        await using (var read = new NpgsqlCommand($"SELECT count(*) FROM reference.{table}", reader, transaction))
            Assert.Equal(2L, await read.ExecuteScalarAsync(Cancel));

        var edit = AddRowAsync(dataset, "IE", "5000000");
        // Each read may queue behind one attempt of the swap, never behind the long reader.
        while (!edit.IsCompleted) Assert.Equal(2L, await CountAsync(login, table));

        var change = await edit;
        Assert.False(change.Done);
        Assert.Equal($"reference.{table} is being read by a long-running query, so its columns could not be replaced. Nothing was changed: try again in a few minutes.", Assert.Single(change.Errors));
        await using (var still = new NpgsqlCommand($"SELECT count(*) FROM reference.{table}", reader, transaction))
            Assert.Equal(2L, await still.ExecuteScalarAsync(Cancel));
        await transaction.RollbackAsync(Cancel);
        Assert.Equal(2L, await web.ScalarAsync<long>("SELECT count(*) FROM reference_rows r JOIN reference_tables t ON t.id = r.reference_table_id WHERE t.table_name = $1", table));

        Assert.True((await AddRowAsync(dataset, "IE", "5000000")).Done);
        Assert.Equal(3L, await CountAsync(login, table));
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();
}
