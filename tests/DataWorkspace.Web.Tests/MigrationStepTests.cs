using DataWorkspace.TestSupport;
using DataWorkspace.Web.Data;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// The migration step on databases of its own: the squashed migrations make the whole catalogue, and a database made
/// by the migrations from before the squash is refused with what to do, not a stack trace.
/// </summary>
public sealed class MigrationStepTests(WebFixture web)
{
    /// <summary>Runs the step on <paramref name="catalogue"/>; its exit code and what it wrote to stderr.</summary>
    private async Task<(int ExitCode, string Errors)> MigrateAsync(string catalogue, params string[] settings)
    {
        var errors = new StringWriter();
        var before = Console.Error;
        Console.SetError(errors);
        try
        {
            var exitCode = await DatabaseMigrator.RunAsync([DatabaseMigrator.Command, $"--ConnectionStrings:catalogue={catalogue}", $"--ConnectionStrings:datasets={web.DatasetsConnectionString}", .. settings]);
            return (exitCode, errors.ToString());
        }
        finally
        {
            Console.SetError(before);
        }
    }

    [Fact]
    public async Task A_database_made_before_the_squash_is_refused_with_the_one_thing_to_do()
    {
        var catalogue = await web.Postgres.CreateDatabaseAsync("catalogue_before_squash");
        await Sql.ScalarAsync<object>(catalogue, """
            CREATE TABLE "__EFMigrationsHistory" (migration_id varchar(150) PRIMARY KEY, product_version varchar(32) NOT NULL);
            INSERT INTO "__EFMigrationsHistory" VALUES ('20261128004911_Initial', '10.0.0'), ('20261204144058_UserDeactivation', '10.0.0');
            """);

        var (exitCode, errors) = await MigrateAsync(catalogue, $"--{DatabaseMigrator.StartAfreshSetting}=delete the folder /data/postgres");

        Assert.Equal(1, exitCode);
        Assert.Contains("The catalogue database predates the squash of the web app's migrations into one", errors);
        Assert.Contains("stop the run, delete the folder /data/postgres, and run again", errors);
        Assert.DoesNotContain("   at ", errors);
        Assert.Equal(0L, await Sql.ScalarAsync<long>(catalogue, "SELECT count(*) FROM pg_tables WHERE tablename = 'users'"));
    }

    [Fact]
    public async Task A_new_database_gets_the_whole_catalogue_with_its_triggers_and_the_seeded_templates()
    {
        var catalogue = web.Postgres.ConnectionString("catalogue_fresh_" + Guid.NewGuid().ToString("N")[..8]);

        var (exitCode, _) = await MigrateAsync(catalogue);

        Assert.Equal(0, exitCode);
        Assert.Equal(["jupyter", "jupyterlab", "pgadmin", "rstudio"],
            (await Sql.ScalarAsync<string>(catalogue, "SELECT string_agg(host_basename, ',' ORDER BY host_basename) FROM tool_templates"))!.Split(','));
        await Sql.ScalarAsync<object>(catalogue, "INSERT INTO tags (id, type, name) VALUES (gen_random_uuid(), 'Topic', 'trade')");
        Assert.Equal(1L, await Sql.ScalarAsync<long>(catalogue, "SELECT version FROM catalogue_version"));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Sql.ScalarAsync<object>(catalogue, "TRUNCATE audit_events"));
        // The proxy's tables are the proxy's to make (its own migration step).
        Assert.Equal(0L, await Sql.ScalarAsync<long>(catalogue, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%session%'"));
        // The key ring's first key, so web replicas that start together share it (see CatalogueKeyRing).
        Assert.Equal(1L, await Sql.ScalarAsync<long>(catalogue, "SELECT count(*) FROM data_protection_keys"));
    }

    [Fact]
    public void Migrations_newer_than_this_build_and_none_at_all_are_no_reason_to_stop()
    {
        string[] known = ["20270101000000_Initial", "20270102000000_Files"];

        Assert.Null(DatabaseMigrator.PredatesSquash([], known, null));
        Assert.Null(DatabaseMigrator.PredatesSquash(["20270101000000_Initial", "20270301000000_FromANewerBranch"], known, null));
        Assert.Contains("drop the catalogue database", DatabaseMigrator.PredatesSquash(["20261128004911_Initial"], known, null));
    }
}
