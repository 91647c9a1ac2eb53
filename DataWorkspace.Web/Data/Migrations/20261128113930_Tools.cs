using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace DataWorkspace.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class Tools : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "tool_instances",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    host = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    host_basename = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    template_name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    owner_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    state = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    size = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    launcher = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    launcher_handle = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: true),
                    address = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    stage = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    login_role = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    running_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    stopped_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    last_activity_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    stop_reason = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    error = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tool_instances", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "tool_templates",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    host_basename = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    kind = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    description = table.Column<string>(type: "text", nullable: false),
                    image = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    command = table.Column<List<string>>(type: "text[]", nullable: false),
                    port = table.Column<int>(type: "integer", nullable: false),
                    environment = table.Column<string>(type: "jsonb", nullable: false),
                    default_size = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    wrap = table.Column<string>(type: "character varying(24)", maxLength: 24, nullable: false),
                    visible = table.Column<bool>(type: "boolean", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tool_templates", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_tool_instances_owner_id_created_at",
                table: "tool_instances",
                columns: new[] { "owner_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_tool_instances_state",
                table: "tool_instances",
                column: "state",
                filter: "state <> 'Stopped'");

            migrationBuilder.CreateIndex(
                name: "ux_tool_instances_active_host",
                table: "tool_instances",
                column: "host",
                unique: true,
                filter: "state <> 'Stopped'");

            migrationBuilder.CreateIndex(
                name: "ix_tool_templates_host_basename",
                table: "tool_templates",
                column: "host_basename",
                unique: true);

            // The templates every installation starts with, as the original offers them. JupyterLab, RStudio and pgAdmin
            // are container images (ECS); Jupyter Notebook also runs as a local process where Debian's package is installed.
            migrationBuilder.Sql("""
                INSERT INTO tool_templates (id, name, host_basename, kind, description, image, command, port, environment, default_size, wrap, visible, created_at) VALUES
                ('6f1c3c52-0b7e-4c55-9d0b-3a1f3d1e0001', 'JupyterLab', 'jupyterlab', 'Tool', 'Notebooks in Python and R, with your data and files.',
                 'quay.io/jupyter/datascience-notebook:2025-11-24', ARRAY[]::text[], 8888, '{}', 'Medium', 'None', true, now()),
                ('6f1c3c52-0b7e-4c55-9d0b-3a1f3d1e0002', 'RStudio', 'rstudio', 'Tool', 'R and RStudio, with your data and files.',
                 'rocker/rstudio:4.4.2', ARRAY[]::text[], 8787, '{"DISABLE_AUTH": "true"}', 'Medium', 'None', true, now()),
                ('6f1c3c52-0b7e-4c55-9d0b-3a1f3d1e0003', 'pgAdmin', 'pgadmin', 'Tool', 'Browse and query the datasets database.',
                 'dpage/pgadmin4:8.13', ARRAY[]::text[], 80, '{"PGADMIN_CONFIG_SERVER_MODE": "False", "PGADMIN_CONFIG_MASTER_PASSWORD_REQUIRED": "False"}', 'Small', 'None', true, now()),
                ('6f1c3c52-0b7e-4c55-9d0b-3a1f3d1e0004', 'Jupyter Notebook', 'jupyter', 'Tool', 'The classic notebook, in Python.',
                 'quay.io/jupyter/minimal-notebook:2025-11-24',
                 ARRAY['jupyter-notebook', '--no-browser', '--ip=127.0.0.1', '--port={port}', '--notebook-dir={home}',
                       '--NotebookApp.token=', '--NotebookApp.password=', '--NotebookApp.allow_origin=*'],
                 8888, '{}', 'Medium', 'None', true, now())
                ON CONFLICT (host_basename) DO NOTHING;
                """);

        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "tool_instances");

            migrationBuilder.DropTable(
                name: "tool_templates");
        }
    }
}
