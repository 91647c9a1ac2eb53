using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace DataWorkspace.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class JupyterNotebookCommand : Migration
    {
        private const string Seeded = """
            ARRAY['jupyter-notebook', '--no-browser', '--ip=127.0.0.1', '--port={port}', '--notebook-dir={home}',
                  '--NotebookApp.token=', '--NotebookApp.password=', '--NotebookApp.allow_origin=*']
            """;

        // Jupyter Notebook refuses to start as root without --allow-root (CI and many dev machines run as root), and
        // it accepts the browser's API calls and kernel websockets only from the origin it is told is its own: the
        // proxy asks it for 127.0.0.1:<port>, so the tool's public origin is named rather than allowing any origin.
        private const string Working = """
            ARRAY['jupyter-notebook', '--no-browser', '--allow-root', '--ip=127.0.0.1', '--port={port}', '--notebook-dir={home}',
                  '--NotebookApp.token=', '--NotebookApp.password=', '--NotebookApp.allow_origin={origin}']
            """;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Only the seeded command: one an admin has changed since is theirs.
            migrationBuilder.Sql($"UPDATE tool_templates SET command = {Working} WHERE host_basename = 'jupyter' AND command = {Seeded};");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"UPDATE tool_templates SET command = {Seeded} WHERE host_basename = 'jupyter' AND command = {Working};");
        }
    }
}
