using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace DataWorkspace.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class Visualisations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "catalogue_slug",
                table: "tool_templates",
                type: "character varying(255)",
                maxLength: 255,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "team_slug",
                table: "tool_templates",
                type: "character varying(40)",
                maxLength: 40,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "visualisation_datasets",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    host_basename = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    dataset_id = table.Column<Guid>(type: "uuid", nullable: false),
                    granted_by = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    granted_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_visualisation_datasets", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_visualisation_datasets_host_basename_dataset_id",
                table: "visualisation_datasets",
                columns: new[] { "host_basename", "dataset_id" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "visualisation_datasets");

            migrationBuilder.DropColumn(
                name: "catalogue_slug",
                table: "tool_templates");

            migrationBuilder.DropColumn(
                name: "team_slug",
                table: "tool_templates");
        }
    }
}
