using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace DataWorkspace.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class CatalogueVersion : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // A counter that any change to the searchable catalogue moves on, however it is made (app, admin SQL, another
            // replica), so the web app can cache what search needs and know when the cache is stale.
            migrationBuilder.Sql("""
                CREATE TABLE catalogue_version (id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL);
                INSERT INTO catalogue_version VALUES (1, 0);
                CREATE FUNCTION bump_catalogue_version() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  UPDATE catalogue_version SET version = version + 1 WHERE id = 1;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER datasets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON datasets
                  FOR EACH STATEMENT EXECUTE FUNCTION bump_catalogue_version();
                CREATE TRIGGER tags_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tags
                  FOR EACH STATEMENT EXECUTE FUNCTION bump_catalogue_version();
                CREATE TRIGGER dataset_tags_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dataset_tags
                  FOR EACH STATEMENT EXECUTE FUNCTION bump_catalogue_version();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER dataset_tags_changed ON dataset_tags;
                DROP TRIGGER tags_changed ON tags;
                DROP TRIGGER datasets_changed ON datasets;
                DROP FUNCTION bump_catalogue_version();
                DROP TABLE catalogue_version;
                """);
        }
    }
}
