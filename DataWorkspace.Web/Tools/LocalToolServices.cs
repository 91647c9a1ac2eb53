using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Amazon.Runtime;
using DataWorkspace.Contracts;
using DataWorkspace.Security;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Storage;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// What local tools call back to, on loopback listeners of the web app's own (so neither the proxy nor the portal's
/// pipeline ever reaches them): the endpoint each tool's AWS SDK renews its S3 credentials from, as it would from ECS
/// (<c>AWS_CONTAINER_CREDENTIALS_FULL_URI</c> and a token for that one instance), and, against an AWS emulator, the
/// <see cref="S3Gateway"/> that enforces those credentials' policy. Local tools are processes of the web app, so these
/// live exactly as long as the tools they serve.
/// </summary>
public sealed class LocalToolServices(
    IServiceScopeFactory scopes,
    ToolCredentials credentials,
    S3Gateway gateway,
    IDataProtectionProvider dataProtection,
    SecurityRefusals refusals,
    DataWorkspace.Web.Identity.DeactivatedUsers deactivated,
    ILoggerFactory loggers,
    IServiceProvider applicationServices) : IHostedService, IAsyncDisposable
{
    private static readonly JsonSerializerOptions AsEcsWritesIt = new();
    private readonly IDataProtector tokens = dataProtection.CreateProtector("DataWorkspace.Tools.LocalCredentials");
    private readonly ILogger logger = loggers.CreateLogger<LocalToolServices>();
    private KestrelServer? server;
    private int credentialsPort;
    private int storagePort;

    /// <summary>What a local tool is given to reach these: the credentials endpoint with its own token, and S3 through the gateway.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentFor(Guid instanceId)
    {
        if (server is null) throw new LaunchException("The platform's service for local tools has not started yet: try again in a moment.");
        var environment = new Dictionary<string, string>
        {
            ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = $"http://127.0.0.1:{credentialsPort}/tools/{instanceId:N}/credentials",
            ["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = tokens.Protect(instanceId.ToString("N")),
        };
        if (storagePort != 0)
        {
            var storage = $"http://127.0.0.1:{storagePort}";
            (environment["AWS_ENDPOINT_URL"], environment["AWS_ENDPOINT_URL_S3"]) = (storage, storage);
        }

        return environment;
    }

    /// <summary>Where local tools reach S3 through the <see cref="S3Gateway"/>; null when there is no gateway (real S3) or it has not started.</summary>
    public string? StorageEndpoint => storagePort == 0 ? null : $"http://127.0.0.1:{storagePort}";

    /// <summary>A tool ended: the credentials it was given stop working at the gateway at once, not when they expire.</summary>
    public void Forget(Guid instanceId) => gateway.Revoke(instanceId);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Kestrel alone, not a second host: hosts announce themselves process-wide (DiagnosticListener), and a test
        // host starting at the same moment would take this one for its own.
        var options = new KestrelServerOptions { ApplicationServices = applicationServices, AddServerHeader = false };
        ListenOptions? credentialsListener = null, storageListener = null;
        options.Listen(IPAddress.Loopback, 0, listener => credentialsListener = listener);
        if (gateway.Enabled) options.Listen(IPAddress.Loopback, 0, listener => storageListener = listener);
        var kestrel = new KestrelServer(Options.Create(options),
            new Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportFactory(Options.Create(new Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions()), loggers),
            loggers);
        await kestrel.StartAsync(new Handler(context => storagePort != 0 && context.Connection.LocalPort == storagePort ? gateway.HandleAsync(context) : CredentialsAsync(context)), cancellationToken);
        credentialsPort = credentialsListener!.IPEndPoint!.Port;
        storagePort = storageListener?.IPEndPoint?.Port ?? 0;
        server = kestrel;
        logger.LogInformation("Local tools renew their S3 credentials at http://127.0.0.1:{CredentialsPort}/{Gateway}", credentialsPort,
            storagePort == 0 ? "" : $" and reach S3 through the policy-enforcing gateway at http://127.0.0.1:{storagePort}/");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (server is not null) await server.StopAsync(cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        server?.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// <c>GET /tools/{instance}/credentials</c> with the instance's token: fresh credentials for its user's prefixes
    /// (their teams as of now), in the form ECS's endpoint answers, while the instance is active.
    /// </summary>
    private async Task CredentialsAsync(HttpContext context)
    {
        var segments = (context.Request.Path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments is not ["tools", var idText, "credentials"] || !Guid.TryParseExact(idText, "N", out var instanceId))
        {
            await AnswerAsync(context, StatusCodes.Status404NotFound, "NotFound", "Tools' credentials are at /tools/<instance>/credentials.");
            return;
        }

        if (!HttpMethods.IsGet(context.Request.Method))
        {
            await AnswerAsync(context, StatusCodes.Status405MethodNotAllowed, "MethodNotAllowed", "Credentials are fetched with GET.");
            return;
        }

        var token = context.Request.Headers.Authorization.ToString();
        if (token.Length == 0)
        {
            refusals.Record(context, RefusalReason.ServiceCredentials, $"no token for tool instance {instanceId}");
            await AnswerAsync(context, StatusCodes.Status401Unauthorized, "Unauthorized", "Send the tool's AWS_CONTAINER_AUTHORIZATION_TOKEN as the Authorization header.");
            return;
        }

        if (!IsTokenOf(token, instanceId))
        {
            refusals.Record(context, RefusalReason.ServiceCredentials, $"a token that is not tool instance {instanceId}'s");
            await AnswerAsync(context, StatusCodes.Status403Forbidden, "AccessDenied", "This token is not this tool instance's.");
            return;
        }

        ToolInstance? instance;
        await using (var scope = scopes.CreateAsyncScope())
        {
            instance = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ToolInstance>().AsNoTracking()
                .FirstOrDefaultAsync(i => i.Id == instanceId, context.RequestAborted);
        }

        // A visualisation runs as itself, never as the user who happened to start it: only users' tools get their files.
        if (instance is not { State: not ToolInstanceState.Stopped, Launcher: "Local" } || ToolHostName.Parse(instance.Host).Name is not { IsVisualisation: false })
        {
            refusals.Record(context, RefusalReason.ServiceCredentials, $"tool instance {instanceId} is not running");
            await AnswerAsync(context, StatusCodes.Status403Forbidden, "AccessDenied", "This tool is not running: its credentials ended with it.");
            return;
        }

        // A leaver's tool is being stopped: no more credentials meanwhile, whatever the stop's progress.
        if (await deactivated.IsDeactivatedAsync(instance.OwnerId, context.RequestAborted))
        {
            refusals.Record(context, RefusalReason.Deactivated, $"tool instance {instanceId} belongs to a deactivated user");
            await AnswerAsync(context, StatusCodes.Status403Forbidden, "AccessDenied", "This tool's user has been deactivated.");
            return;
        }

        ToolAwsCredentials issued;
        try
        {
            issued = await credentials.IssueAsync(instance.OwnerId, null, context.RequestAborted);
        }
        catch (Exception exception) when (exception is LaunchException or AmazonClientException)
        {
            logger.LogError(exception, "Could not renew the S3 credentials of tool instance {Id} ({Host})", instanceId, instance.Host);
            await AnswerAsync(context, StatusCodes.Status502BadGateway, "CredentialsUnavailable", exception.Message);
            return;
        }

        gateway.Admit(issued, instance.Id, $"tool {instance.Host}");
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, new EcsCredentials(issued.RoleArn, issued.AccessKeyId, issued.SecretAccessKey, issued.SessionToken,
            issued.Expiration.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)), AsEcsWritesIt, context.RequestAborted);
    }

    private bool IsTokenOf(string token, Guid instanceId)
    {
        try
        {
            return CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.UTF8.GetBytes(tokens.Unprotect(token)), System.Text.Encoding.UTF8.GetBytes(instanceId.ToString("N")));
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static async Task AnswerAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, new EcsError(code, message), AsEcsWritesIt, context.RequestAborted);
    }

    /// <summary>Each request as an <see cref="HttpContext"/> to one delegate.</summary>
    private sealed class Handler(RequestDelegate handle) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

        public Task ProcessRequestAsync(HttpContext context) => handle(context);

        public void DisposeContext(HttpContext context, Exception? exception)
        {
        }
    }

    private sealed record EcsCredentials(string RoleArn, string AccessKeyId, string SecretAccessKey, string Token, string Expiration);

    private sealed record EcsError(string Code, string Message);
}
