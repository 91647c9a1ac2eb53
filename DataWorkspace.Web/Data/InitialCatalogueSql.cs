namespace DataWorkspace.Web.Data;

/// <summary>
/// What the Initial migration makes that EF Core's model cannot say: functions, triggers and the rows every
/// installation starts with. Kept outside Data/Migrations/ so squashing the migrations again keeps it (see
/// <see cref="DatabaseMigrator"/>). Once a database has been made with it, it is history: a change is a new migration.
/// </summary>
public static class InitialCatalogueSql
{
    public const string Up = """
        -- A counter that any change to the searchable catalogue moves on, however it is made (app, admin SQL, another
        -- replica), so the web app can cache what search needs and know when the cache is stale.
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

        -- The audit log is append-only, enforced by the database: nobody rewrites or erases history, not even the app.
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
        CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
            FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

        -- A template written by SQL has no extra ports unless it says so.
        ALTER TABLE tool_templates ALTER COLUMN ports SET DEFAULT '{}';

        -- The templates every installation starts with, as the original offers them. JupyterLab, RStudio and pgAdmin
        -- are container images (ECS); Jupyter Notebook also runs as a local process where Debian's package is installed:
        -- it refuses to start as root without --allow-root (CI and many dev machines run as root), and it accepts the
        -- browser's API calls and kernel websockets only from the origin it is told is its own, so the tool's public
        -- origin is named rather than allowing any origin.
        INSERT INTO tool_templates (id, name, host_basename, kind, description, image, command, port, ports, environment, default_size, wrap, visible, created_at) VALUES
        ('6f1c3c52-0b7e-4c55-9d0b-3a1f3d1e0001', 'JupyterLab', 'jupyterlab', 'Tool', 'Notebooks in Python and R, with your data and files.',
         'quay.io/jupyter/datascience-notebook:2025-11-24', ARRAY[]::text[], 8888, '{}', '{}', 'Medium', 'None', true, now()),
        ('6f1c3c52-0b7e-4c55-9d0b-3a1f3d1e0002', 'RStudio', 'rstudio', 'Tool', 'R and RStudio, with your data and files.',
         'rocker/rstudio:4.4.2', ARRAY[]::text[], 8787, '{}', '{"DISABLE_AUTH": "true"}', 'Medium', 'None', true, now()),
        ('6f1c3c52-0b7e-4c55-9d0b-3a1f3d1e0003', 'pgAdmin', 'pgadmin', 'Tool', 'Browse and query the datasets database.',
         'dpage/pgadmin4:8.13', ARRAY[]::text[], 80, '{}', '{"PGADMIN_CONFIG_SERVER_MODE": "False", "PGADMIN_CONFIG_MASTER_PASSWORD_REQUIRED": "False"}', 'Small', 'None', true, now()),
        ('6f1c3c52-0b7e-4c55-9d0b-3a1f3d1e0004', 'Jupyter Notebook', 'jupyter', 'Tool', 'The classic notebook, in Python.',
         'quay.io/jupyter/minimal-notebook:2025-11-24',
         ARRAY['jupyter-notebook', '--no-browser', '--allow-root', '--ip=127.0.0.1', '--port={port}', '--notebook-dir={home}',
               '--NotebookApp.token=', '--NotebookApp.password=', '--NotebookApp.allow_origin={origin}'],
         8888, '{}', '{}', 'Medium', 'None', true, now())
        ON CONFLICT (host_basename) DO NOTHING;
        """;

    /// <summary>After the Initial migration's tables are dropped (their triggers go with them).</summary>
    public const string Down = """
        DROP TABLE catalogue_version;
        DROP FUNCTION bump_catalogue_version();
        DROP FUNCTION audit_events_append_only();
        """;
}
