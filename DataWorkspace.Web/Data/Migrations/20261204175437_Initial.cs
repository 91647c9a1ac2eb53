using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;
using NpgsqlTypes;

#nullable disable

namespace DataWorkspace.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "audit_events",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    action = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    actor_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    actor_email = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: false),
                    client_ip = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    dataset_id = table.Column<Guid>(type: "uuid", nullable: true),
                    subject_user_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: true),
                    summary = table.Column<string>(type: "text", nullable: false),
                    details = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_audit_events", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "data_protection_keys",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    friendly_name = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    xml = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_data_protection_keys", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "database_logins",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    user_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    role_name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    purpose = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    protected_password = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    dropped_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_database_logins", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "datasets",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    type = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    name = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    slug = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    short_description = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: false),
                    description = table.Column<string>(type: "text", nullable: false),
                    publisher = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    licence = table.Column<string>(type: "text", nullable: false),
                    retention = table.Column<string>(type: "text", nullable: false),
                    classification = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    information_asset_owner = table.Column<string>(type: "text", nullable: false),
                    information_asset_manager = table.Column<string>(type: "text", nullable: false),
                    editors = table.Column<List<string>>(type: "text[]", nullable: false),
                    access_type = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    authorized_email_domains = table.Column<List<string>>(type: "text[]", nullable: false),
                    eligibility_criteria = table.Column<List<string>>(type: "text[]", nullable: false),
                    published = table.Column<bool>(type: "boolean", nullable: false),
                    published_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    deleted_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    search_vector = table.Column<NpgsqlTsVector>(type: "tsvector", nullable: false, computedColumnSql: "setweight(to_tsvector('english', coalesce(name, '')), 'A') || setweight(to_tsvector('english', coalesce(short_description, '')), 'B') || setweight(to_tsvector('english', coalesce(description, '')), 'C')", stored: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_datasets", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "explorer_queries",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    user_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    sql = table.Column<string>(type: "text", nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    duration_ms = table.Column<long>(type: "bigint", nullable: true),
                    total = table.Column<long>(type: "bigint", nullable: true),
                    rows_affected = table.Column<long>(type: "bigint", nullable: true),
                    result_table = table.Column<string>(type: "character varying(130)", maxLength: 130, nullable: true),
                    login_role = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: true),
                    backend_pid = table.Column<int>(type: "integer", nullable: true),
                    error_message = table.Column<string>(type: "text", nullable: true),
                    error_detail = table.Column<string>(type: "text", nullable: true),
                    error_hint = table.Column<string>(type: "text", nullable: true),
                    error_code = table.Column<string>(type: "character varying(5)", maxLength: 5, nullable: true),
                    error_position = table.Column<int>(type: "integer", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_explorer_queries", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "machine_api_nonces",
                columns: table => new
                {
                    client_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    nonce = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    seen_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_machine_api_nonces", x => new { x.client_id, x.nonce });
                });

            migrationBuilder.CreateTable(
                name: "outbox_messages",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    to = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: false),
                    subject = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    body = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    next_attempt_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    sent_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    attempts = table.Column<int>(type: "integer", nullable: false),
                    last_error = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_outbox_messages", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "saved_queries",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    owner_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    owner_name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    title = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    description = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    sql = table.Column<string>(type: "text", nullable: false),
                    shared = table.Column<bool>(type: "boolean", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_saved_queries", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "tags",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    name = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tags", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "teams",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    slug = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_teams", x => x.id);
                });

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
                    stop_cause = table.Column<string>(type: "character varying(24)", maxLength: 24, nullable: true),
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
                    ports = table.Column<List<int>>(type: "integer[]", nullable: false),
                    environment = table.Column<string>(type: "jsonb", nullable: false),
                    default_size = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    wrap = table.Column<string>(type: "character varying(24)", maxLength: 24, nullable: false),
                    visible = table.Column<bool>(type: "boolean", nullable: false),
                    catalogue_slug = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: true),
                    team_slug = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: true),
                    idle_timeout = table.Column<TimeSpan>(type: "interval", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tool_templates", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "tools_permissions",
                columns: table => new
                {
                    user_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    source = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    training_completed_on = table.Column<DateOnly>(type: "date", nullable: true),
                    granted_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    granted_by = table.Column<string>(type: "text", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tools_permissions", x => x.user_id);
                });

            migrationBuilder.CreateTable(
                name: "users",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    email = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: false),
                    name = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    first_seen_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    last_seen_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    deactivated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    deactivated_by = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_users", x => x.id);
                });

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

            migrationBuilder.CreateTable(
                name: "access_requests",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    dataset_id = table.Column<Guid>(type: "uuid", nullable: false),
                    user_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    user_email = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: false),
                    user_name = table.Column<string>(type: "text", nullable: false),
                    reason = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    needed_until = table.Column<DateOnly>(type: "date", nullable: false),
                    confirmed_criteria = table.Column<List<string>>(type: "text[]", nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    decided_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    decided_by = table.Column<string>(type: "text", nullable: true),
                    decision_comment = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    ended_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    xmin = table.Column<uint>(type: "xid", rowVersion: true, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_access_requests", x => x.id);
                    table.ForeignKey(
                        name: "fk_access_requests_datasets_dataset_id",
                        column: x => x.dataset_id,
                        principalTable: "datasets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "bookmarks",
                columns: table => new
                {
                    dataset_id = table.Column<Guid>(type: "uuid", nullable: false),
                    user_id = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_bookmarks", x => new { x.user_id, x.dataset_id });
                    table.ForeignKey(
                        name: "fk_bookmarks_datasets_dataset_id",
                        column: x => x.dataset_id,
                        principalTable: "datasets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "custom_queries",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    dataset_id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    query = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_custom_queries", x => x.id);
                    table.ForeignKey(
                        name: "fk_custom_queries_datasets_dataset_id",
                        column: x => x.dataset_id,
                        principalTable: "datasets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "dataset_permissions",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    dataset_id = table.Column<Guid>(type: "uuid", nullable: false),
                    user_id = table.Column<string>(type: "text", nullable: false),
                    source = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    granted_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    granted_by = table.Column<string>(type: "text", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    access_request_id = table.Column<Guid>(type: "uuid", nullable: true),
                    ended_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    end_reason = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: true),
                    ended_by = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_dataset_permissions", x => x.id);
                    table.ForeignKey(
                        name: "fk_dataset_permissions_datasets_dataset_id",
                        column: x => x.dataset_id,
                        principalTable: "datasets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "reference_tables",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    dataset_id = table.Column<Guid>(type: "uuid", nullable: false),
                    table_name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    columns = table.Column<string>(type: "jsonb", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_reference_tables", x => x.id);
                    table.ForeignKey(
                        name: "fk_reference_tables_datasets_dataset_id",
                        column: x => x.dataset_id,
                        principalTable: "datasets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "source_links",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    dataset_id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    url = table.Column<string>(type: "text", nullable: false),
                    format = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_source_links", x => x.id);
                    table.ForeignKey(
                        name: "fk_source_links_datasets_dataset_id",
                        column: x => x.dataset_id,
                        principalTable: "datasets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "source_tables",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    dataset_id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    schema = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    table = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    is_view = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_source_tables", x => x.id);
                    table.ForeignKey(
                        name: "fk_source_tables_datasets_dataset_id",
                        column: x => x.dataset_id,
                        principalTable: "datasets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "dataset_tags",
                columns: table => new
                {
                    datasets_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tags_id = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_dataset_tags", x => new { x.datasets_id, x.tags_id });
                    table.ForeignKey(
                        name: "fk_dataset_tags_datasets_datasets_id",
                        column: x => x.datasets_id,
                        principalTable: "datasets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_dataset_tags_tags_tags_id",
                        column: x => x.tags_id,
                        principalTable: "tags",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "team_members",
                columns: table => new
                {
                    team_id = table.Column<Guid>(type: "uuid", nullable: false),
                    user_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    added_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_team_members", x => new { x.team_id, x.user_id });
                    table.ForeignKey(
                        name: "fk_team_members_teams_team_id",
                        column: x => x.team_id,
                        principalTable: "teams",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "reference_rows",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    reference_table_id = table.Column<Guid>(type: "uuid", nullable: false),
                    position = table.Column<int>(type: "integer", nullable: false),
                    values = table.Column<string[]>(type: "text[]", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_reference_rows", x => x.id);
                    table.ForeignKey(
                        name: "fk_reference_rows_reference_tables_reference_table_id",
                        column: x => x.reference_table_id,
                        principalTable: "reference_tables",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_access_requests_dataset_id_status",
                table: "access_requests",
                columns: new[] { "dataset_id", "status" });

            migrationBuilder.CreateIndex(
                name: "ix_access_requests_user_id_created_at",
                table: "access_requests",
                columns: new[] { "user_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_action_at",
                table: "audit_events",
                columns: new[] { "action", "at" });

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_actor_id_at",
                table: "audit_events",
                columns: new[] { "actor_id", "at" });

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_at",
                table: "audit_events",
                column: "at");

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_dataset_id",
                table: "audit_events",
                column: "dataset_id");

            migrationBuilder.CreateIndex(
                name: "ix_bookmarks_dataset_id",
                table: "bookmarks",
                column: "dataset_id");

            migrationBuilder.CreateIndex(
                name: "ix_custom_queries_dataset_id",
                table: "custom_queries",
                column: "dataset_id");

            migrationBuilder.CreateIndex(
                name: "ux_data_protection_keys_friendly_name",
                table: "data_protection_keys",
                column: "friendly_name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_database_logins_expires_at",
                table: "database_logins",
                column: "expires_at",
                filter: "dropped_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_database_logins_role_name",
                table: "database_logins",
                column: "role_name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_database_logins_user_id_purpose_expires_at",
                table: "database_logins",
                columns: new[] { "user_id", "purpose", "expires_at" });

            migrationBuilder.CreateIndex(
                name: "ix_dataset_permissions_dataset_id",
                table: "dataset_permissions",
                column: "dataset_id");

            migrationBuilder.CreateIndex(
                name: "ix_dataset_permissions_expires_at",
                table: "dataset_permissions",
                column: "expires_at",
                filter: "ended_at IS NULL AND expires_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_dataset_permissions_user_id_dataset_id",
                table: "dataset_permissions",
                columns: new[] { "user_id", "dataset_id" });

            migrationBuilder.CreateIndex(
                name: "ix_dataset_tags_tags_id",
                table: "dataset_tags",
                column: "tags_id");

            migrationBuilder.CreateIndex(
                name: "ix_datasets_published_deleted_at",
                table: "datasets",
                columns: new[] { "published", "deleted_at" });

            migrationBuilder.CreateIndex(
                name: "ix_datasets_publisher",
                table: "datasets",
                column: "publisher");

            migrationBuilder.CreateIndex(
                name: "ix_datasets_search_vector",
                table: "datasets",
                column: "search_vector")
                .Annotation("Npgsql:IndexMethod", "GIN");

            migrationBuilder.CreateIndex(
                name: "ix_datasets_slug",
                table: "datasets",
                column: "slug",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_explorer_queries_finished_at",
                table: "explorer_queries",
                column: "finished_at",
                filter: "result_table IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_explorer_queries_user_id_started_at",
                table: "explorer_queries",
                columns: new[] { "user_id", "started_at" });

            migrationBuilder.CreateIndex(
                name: "ix_machine_api_nonces_seen_at",
                table: "machine_api_nonces",
                column: "seen_at");

            migrationBuilder.CreateIndex(
                name: "ix_outbox_messages_next_attempt_at",
                table: "outbox_messages",
                column: "next_attempt_at",
                filter: "sent_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_reference_rows_reference_table_id_position",
                table: "reference_rows",
                columns: new[] { "reference_table_id", "position" });

            migrationBuilder.CreateIndex(
                name: "ix_reference_tables_dataset_id",
                table: "reference_tables",
                column: "dataset_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_reference_tables_table_name",
                table: "reference_tables",
                column: "table_name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_saved_queries_owner_id_updated_at",
                table: "saved_queries",
                columns: new[] { "owner_id", "updated_at" });

            migrationBuilder.CreateIndex(
                name: "ix_saved_queries_shared",
                table: "saved_queries",
                column: "shared",
                filter: "shared");

            migrationBuilder.CreateIndex(
                name: "ix_source_links_dataset_id",
                table: "source_links",
                column: "dataset_id");

            migrationBuilder.CreateIndex(
                name: "ix_source_tables_dataset_id",
                table: "source_tables",
                column: "dataset_id");

            migrationBuilder.CreateIndex(
                name: "ix_tags_type_name",
                table: "tags",
                columns: new[] { "type", "name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_team_members_user_id",
                table: "team_members",
                column: "user_id");

            migrationBuilder.CreateIndex(
                name: "ix_teams_slug",
                table: "teams",
                column: "slug",
                unique: true);

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

            migrationBuilder.CreateIndex(
                name: "ix_tools_permissions_expires_at",
                table: "tools_permissions",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "ix_users_email",
                table: "users",
                column: "email");

            migrationBuilder.CreateIndex(
                name: "ix_visualisation_datasets_host_basename_dataset_id",
                table: "visualisation_datasets",
                columns: new[] { "host_basename", "dataset_id" },
                unique: true);

            migrationBuilder.Sql(InitialCatalogueSql.Up);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "access_requests");

            migrationBuilder.DropTable(
                name: "audit_events");

            migrationBuilder.DropTable(
                name: "bookmarks");

            migrationBuilder.DropTable(
                name: "custom_queries");

            migrationBuilder.DropTable(
                name: "data_protection_keys");

            migrationBuilder.DropTable(
                name: "database_logins");

            migrationBuilder.DropTable(
                name: "dataset_permissions");

            migrationBuilder.DropTable(
                name: "dataset_tags");

            migrationBuilder.DropTable(
                name: "explorer_queries");

            migrationBuilder.DropTable(
                name: "machine_api_nonces");

            migrationBuilder.DropTable(
                name: "outbox_messages");

            migrationBuilder.DropTable(
                name: "reference_rows");

            migrationBuilder.DropTable(
                name: "saved_queries");

            migrationBuilder.DropTable(
                name: "source_links");

            migrationBuilder.DropTable(
                name: "source_tables");

            migrationBuilder.DropTable(
                name: "team_members");

            migrationBuilder.DropTable(
                name: "tool_instances");

            migrationBuilder.DropTable(
                name: "tool_templates");

            migrationBuilder.DropTable(
                name: "tools_permissions");

            migrationBuilder.DropTable(
                name: "users");

            migrationBuilder.DropTable(
                name: "visualisation_datasets");

            migrationBuilder.DropTable(
                name: "tags");

            migrationBuilder.DropTable(
                name: "reference_tables");

            migrationBuilder.DropTable(
                name: "teams");

            migrationBuilder.DropTable(
                name: "datasets");

            migrationBuilder.Sql(InitialCatalogueSql.Down);
        }
    }
}
