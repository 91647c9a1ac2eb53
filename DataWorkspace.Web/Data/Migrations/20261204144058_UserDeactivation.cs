using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace DataWorkspace.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class UserDeactivation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "deactivated_at",
                table: "users",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "deactivated_by",
                table: "users",
                type: "character varying(320)",
                maxLength: 320,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "checked_at",
                table: "proxy_sessions",
                type: "timestamp with time zone",
                nullable: false,
                defaultValueSql: "now()");

            migrationBuilder.CreateIndex(
                name: "ix_proxy_sessions_checked_at",
                table: "proxy_sessions",
                column: "checked_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_proxy_sessions_checked_at",
                table: "proxy_sessions");

            migrationBuilder.DropColumn(
                name: "deactivated_at",
                table: "users");

            migrationBuilder.DropColumn(
                name: "deactivated_by",
                table: "users");

            migrationBuilder.DropColumn(
                name: "checked_at",
                table: "proxy_sessions");
        }
    }
}
