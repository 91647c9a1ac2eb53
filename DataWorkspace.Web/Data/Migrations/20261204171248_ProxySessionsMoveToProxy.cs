using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace DataWorkspace.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class ProxySessionsMoveToProxy : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "proxy_sessions");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "proxy_sessions",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    checked_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ticket = table.Column<byte[]>(type: "bytea", nullable: false),
                    user_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_proxy_sessions", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_proxy_sessions_checked_at",
                table: "proxy_sessions",
                column: "checked_at");

            migrationBuilder.CreateIndex(
                name: "ix_proxy_sessions_expires_at",
                table: "proxy_sessions",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "ix_proxy_sessions_user_id",
                table: "proxy_sessions",
                column: "user_id");
        }
    }
}
