using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace DataWorkspace.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class ToolStopCause : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "stop_cause",
                table: "tool_instances",
                type: "character varying(24)",
                maxLength: 24,
                nullable: true);

            // Stages by their names, as the model stores them; stopped instances get the cause their reason gives.
            migrationBuilder.Sql("""
                UPDATE tool_instances SET stage = CASE stage WHEN 'queued' THEN 'Queued' WHEN 'provisioning' THEN 'Provisioning'
                    WHEN 'pulling' THEN 'Pulling' WHEN 'starting' THEN 'Starting' WHEN 'waiting for the app' THEN 'WaitingForTheApp' END
                WHERE stage IS NOT NULL;
                UPDATE tool_instances SET stop_cause = CASE
                    WHEN stop_reason = 'stopped by its user' THEN 'User'
                    WHEN stop_reason LIKE 'an administrator %' THEN 'Administrator'
                    WHEN stop_reason LIKE '%account %deactivated%' THEN 'AccountDeactivated'
                    WHEN stop_reason LIKE 'it was idle %' THEN 'Idle'
                    WHEN stop_reason LIKE 'it reached the maximum lifetime %' THEN 'MaxLifetime'
                    WHEN stop_reason LIKE 'it failed to start%' THEN 'SpawnFailed'
                    WHEN stop_reason LIKE 'it stopped answering%' THEN 'StoppedAnswering'
                    WHEN stop_reason LIKE 'the platform restarted%' THEN 'PlatformRestarted' END
                WHERE state = 'Stopped';
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                UPDATE tool_instances SET stage = CASE stage WHEN 'Queued' THEN 'queued' WHEN 'Provisioning' THEN 'provisioning'
                    WHEN 'Pulling' THEN 'pulling' WHEN 'Starting' THEN 'starting' WHEN 'WaitingForTheApp' THEN 'waiting for the app' END
                WHERE stage IS NOT NULL;
                """);

            migrationBuilder.DropColumn(
                name: "stop_cause",
                table: "tool_instances");
        }
    }
}
