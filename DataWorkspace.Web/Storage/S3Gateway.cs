using System.Collections.Concurrent;
using System.Net;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using DataWorkspace.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Forwarder;

namespace DataWorkspace.Web.Storage;

/// <summary>
/// Local tools' way to S3 when the platform runs against an AWS emulator, which checks no policy: it evaluates each
/// request against the session policy of the credentials that signed it, as AWS does, answers a refusal as S3 does
/// (403 with an XML AccessDenied), and forwards what is allowed to the emulator as it came, bodies streamed. It knows
/// only credentials the platform issued to tools (<see cref="Admit"/>), until they expire. Deployed, tools reach S3
/// itself, which enforces the policy; this is not used.
/// </summary>
public sealed class S3Gateway(IConfiguration configuration, IHttpForwarder forwarder, SecurityRefusals refusals, TimeProvider time, ILogger<S3Gateway> logger)
    : IDisposable
{
    private readonly Uri? emulator = configuration["Aws:ServiceUrl"] is { Length: > 0 } url ? new Uri(url) : null;
    private readonly ConcurrentDictionary<string, Admitted> admitted = new(StringComparer.Ordinal);
    private readonly HttpMessageInvoker client = new(new SocketsHttpHandler
    {
        UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(15),
    });

    /// <summary>Whether the platform runs against an emulator (<c>Aws:ServiceUrl</c>), so that tools need this gateway.</summary>
    public bool Enabled => emulator is not null;

    /// <summary>
    /// Lets requests signed with <paramref name="credentials"/> through, as far as their policy allows, until they
    /// expire or their holder (a tool instance, <paramref name="holderId"/>) is <see cref="Revoke">revoked</see>.
    /// </summary>
    public void Admit(ToolAwsCredentials credentials, Guid holderId, string holder)
    {
        if (!Enabled) return;
        var now = time.GetUtcNow();
        foreach (var (key, entry) in admitted)
            if (entry.Expiration <= now) admitted.TryRemove(key, out _);
        admitted[credentials.AccessKeyId] = new Admitted(credentials.SessionToken, AccessPolicy.Parse(credentials.Policy), credentials.Expiration, holderId, holder);
    }

    /// <summary>Every credential issued to <paramref name="holderId"/> stops working at once (its tool stopped).</summary>
    public void Revoke(Guid holderId)
    {
        foreach (var (key, entry) in admitted)
            if (entry.HolderId == holderId) admitted.TryRemove(key, out _);
    }

    public async Task HandleAsync(HttpContext context)
    {
        var target = context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget;
        var question = target.IndexOf('?');
        var (path, rawQuery) = question < 0 ? (target, "") : (target[..question], target[question..]);
        var query = S3Permissions.Query(rawQuery);
        var request = context.Request;

        if (Caller(request.Headers, query) is not { } caller)
        {
            await RefuseAsync(context, 403, "AccessDenied", "Anonymous requests are refused: sign them with the tool's own credentials.", "an unsigned request");
            return;
        }

        var (accessKeyId, sessionToken) = caller;
        if (!admitted.TryGetValue(accessKeyId, out var issued))
        {
            await RefuseAsync(context, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", $"access key {accessKeyId} was not issued to a tool");
            return;
        }

        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sessionToken ?? ""), Encoding.UTF8.GetBytes(issued.SessionToken)))
        {
            await RefuseAsync(context, 400, "InvalidToken", "The provided token is malformed or otherwise invalid.", $"access key {accessKeyId} without its session token");
            return;
        }

        var now = time.GetUtcNow();
        if (issued.Expiration <= now)
        {
            await RefuseAsync(context, 400, "ExpiredToken", "The provided token has expired.", $"access key {accessKeyId} expired at {issued.Expiration:u}");
            return;
        }

        if (S3Permissions.PresignedUntil(query) is { } until && until <= now)
        {
            await RefuseAsync(context, 403, "AccessDenied", "Request has expired", $"a presigned URL that expired at {until:u}");
            return;
        }

        string? deleteBody = null;
        if (S3Permissions.IsDeleteObjects(request.Method, path, query))
        {
            if (request.ContentLength is null or > S3Permissions.MaxDeleteBody)
            {
                await RefuseAsync(context, 400, "MalformedXML", $"A DeleteObjects body must have a Content-Length of at most {S3Permissions.MaxDeleteBody} bytes.", "an oversized DeleteObjects body");
                return;
            }

            // Read to evaluate each key, then sent on as it came.
            request.EnableBuffering();
            using (var reader = new StreamReader(request.Body, Encoding.UTF8, leaveOpen: true)) deleteBody = await reader.ReadToEndAsync(context.RequestAborted);
            request.Body.Position = 0;
        }

        var needs = S3Permissions.Of(request.Method, path, query, request.Headers, deleteBody);
        if (needs.Unsupported is { } unsupported)
        {
            await RefuseAsync(context, 403, "AccessDenied",
                $"Access Denied: {issued.Holder} may not make this request ({unsupported}); tools may list, read, write and delete objects under their own prefixes.",
                unsupported);
            return;
        }

        if (needs.Checks.FirstOrDefault(check => !issued.Policy.Allows(check)) is { } denied)
        {
            await RefuseAsync(context, 403, "AccessDenied",
                $"User: {issued.Holder} is not authorized to perform: {denied.Action} on resource: \"{denied.Resource}\" because no session policy allows the {denied.Action} action",
                $"{needs.Operation} needs {denied}");
            return;
        }

        var destination = new Uri(emulator!.GetLeftPart(UriPartial.Authority) + target, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        var error = await forwarder.SendAsync(context, emulator.GetLeftPart(UriPartial.Authority), client, ForwarderRequestConfig.Empty, new ExactTarget(destination));
        if (error != ForwarderError.None)
            logger.LogWarning(context.Features.Get<IForwarderErrorFeature>()?.Exception, "Forwarding {Operation} to the AWS emulator failed: {Error}", needs.Operation, error);
    }

    /// <summary>The access key and session token that signed the request: SigV4 or SigV2, in the headers or presigned in the query.</summary>
    internal static (string AccessKeyId, string? SessionToken)? Caller(IHeaderDictionary headers, IReadOnlyDictionary<string, StringValues> query)
    {
        var authorization = headers.Authorization.ToString();
        var headerToken = headers["x-amz-security-token"].ToString() is { Length: > 0 } token ? token : null;
        const string V4 = "AWS4-HMAC-SHA256 ";
        if (authorization.StartsWith(V4, StringComparison.Ordinal))
        {
            var credential = authorization[V4.Length..].Split(',', StringSplitOptions.TrimEntries)
                .FirstOrDefault(part => part.StartsWith("Credential=", StringComparison.Ordinal))?["Credential=".Length..];
            return credential?.Split('/')[0] is { Length: > 0 } key ? (key, headerToken) : null;
        }

        if (authorization.StartsWith("AWS ", StringComparison.Ordinal))
            return authorization[4..].Split(':')[0] is { Length: > 0 } key ? (key, headerToken) : null;
        string? Query(string name) => query.TryGetValue(name, out var value) && value.Count == 1 ? value.ToString() : null;
        if (Query("X-Amz-Credential")?.Split('/')[0] is { Length: > 0 } presignedV4) return (presignedV4, Query("X-Amz-Security-Token"));
        if (Query("AWSAccessKeyId") is { Length: > 0 } presignedV2) return (presignedV2, Query("x-amz-security-token"));
        return null;
    }

    /// <summary>Answers as S3 does, with the error's code and message in XML, and records the refusal.</summary>
    private async Task RefuseAsync(HttpContext context, int status, string code, string message, string detail)
    {
        refusals.Record(context, RefusalReason.StorageAccess, detail);
        var response = context.Response;
        response.StatusCode = status;
        // A client that asked to be told to continue and is refused does not send its body: the next bytes on this
        // connection would be read as that body, so the connection ends with this answer.
        if (context.Request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase)) response.Headers.Connection = "close";
        if (HttpMethods.IsHead(context.Request.Method)) return;
        response.ContentType = "application/xml";
        await response.WriteAsync($"""
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>{code}</Code><Message>{SecurityElement.Escape(message)}</Message><RequestId>{context.TraceIdentifier}</RequestId></Error>
            """, context.RequestAborted);
    }

    public void Dispose() => client.Dispose();

    private sealed record Admitted(string SessionToken, AccessPolicy Policy, DateTimeOffset Expiration, Guid HolderId, string Holder);

    /// <summary>The request goes to the emulator at the very path and query it was signed for, and with the emulator's host (so it is read path-style).</summary>
    private sealed class ExactTarget(Uri destination) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            proxyRequest.RequestUri = destination;
            proxyRequest.Headers.Host = null;
        }
    }
}
