using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>PostgreSQL run from the machine's own binaries (no container runtime needed).</summary>
public sealed class LocalPostgresResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public EndpointReference Endpoint => new(this, EndpointName);

    public ParameterResource Password { get; } = password;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={Endpoint.Property(EndpointProperty.IPV4Host)};Port={Endpoint.Property(EndpointProperty.Port)};Username=postgres;Password={Password}");
}

public sealed class LocalPostgresDatabaseResource(string name, string databaseName, LocalPostgresResource parent)
    : Resource(name), IResourceWithParent<LocalPostgresResource>, IResourceWithConnectionString
{
    public LocalPostgresResource Parent { get; } = parent;

    public string DatabaseName { get; } = databaseName;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={DatabaseName}");
}

public static class LocalPostgresExtensions
{
    /// <summary>
    /// Two resources: <c>{name}-init</c> creates the cluster in <paramref name="dataDirectory"/> if there is none
    /// (then exits), and <c>{name}</c> runs the server on loopback, healthy once it answers a query.
    /// </summary>
    public static IResourceBuilder<LocalPostgresResource> AddLocalPostgres(
        this IDistributedApplicationBuilder builder, string name, string dataDirectory, IResourceBuilder<ParameterResource> password)
    {
        var binaries = LocalPrerequisites.PostgresBinaries()
            ?? throw new InvalidOperationException(LocalPrerequisites.Missing());
        var scripts = Path.Combine(builder.AppHostDirectory, "Infrastructure");
        var port = LocalState.FreePort();

        var init = builder.AddExecutable($"{name}-init", "bash", scripts, Path.Combine(scripts, "postgres-init.sh"), dataDirectory, binaries)
            .WithEnvironment("POSTGRES_PASSWORD", password);

        var server = new LocalPostgresResource(name, "bash", scripts, password.Resource);
        var healthCheck = $"{name}-accepts-queries";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, cancellationToken => PromptHealthChecks.UntilHealthyAsync(async token =>
        {
            var connectionString = await server.ConnectionStringExpression.GetValueAsync(token);
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 3 }.ConnectionString);
            await connection.OpenAsync(token);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(token);
            return null;
        }, cancellationToken));

        return builder.AddResource(server)
            .WithArgs(Path.Combine(scripts, "postgres-run.sh"), dataDirectory, binaries)
            .WithEndpoint(port: port, targetPort: port, scheme: "tcp", name: LocalPostgresResource.EndpointName, isProxied: false)
            .WithEnvironment("PGPORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WaitForCompletion(init)
            .WithHealthCheck(healthCheck);
    }

    public static IResourceBuilder<LocalPostgresDatabaseResource> AddDatabase(this IResourceBuilder<LocalPostgresResource> server, string name)
        => server.ApplicationBuilder.AddResource(new LocalPostgresDatabaseResource(name, name, server.Resource));

    /// <summary>The newest PostgreSQL server binaries installed under /usr/lib/postgresql (Debian's layout), or on PATH.</summary>
}
