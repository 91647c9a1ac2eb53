// Two floors under the proxy in bench/Tools, not part of the platform:
// - every request forwarded as it is to one address with YARP's IHttpForwarder, no sign-in, no routing, no telemetry,
//   no logging: BARE_FORWARDER_TARGET=http://127.0.0.1:PORT ASPNETCORE_URLS=http://127.0.0.1:OTHER BareForwarder
// - Kestrel answering every request itself with N bytes, forwarding nothing: what serving a request costs any proxy
//   built on Kestrel before it forwards anything: BARE_FORWARDER_ANSWER_BYTES=1024 ASPNETCORE_URLS=... BareForwarder
using System.Globalization;
using System.Net;
using Yarp.ReverseProxy.Forwarder;

var target = Environment.GetEnvironmentVariable("BARE_FORWARDER_TARGET");
var answerBytes = Environment.GetEnvironmentVariable("BARE_FORWARDER_ANSWER_BYTES");
if (target is null && answerBytes is null)
    throw new InvalidOperationException("Set BARE_FORWARDER_TARGET to the address to forward to (e.g. http://127.0.0.1:5000), or BARE_FORWARDER_ANSWER_BYTES to answer itself");
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
builder.Services.AddHttpForwarder();
var app = builder.Build();
if (target is null)
{
    var body = new byte[int.Parse(answerBytes!, CultureInfo.InvariantCulture)];
    app.Run(context =>
    {
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body).AsTask();
    });
    app.Run();
    return;
}

var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
// The proxy's tool client's settings that shape a request (no proxy, redirects, decompression, cookies or trace
// headers); its metrics switch-off and connect timeout do not apply to a process without telemetry or dead tools.
using var client = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    ActivityHeadersPropagator = null,
});
app.Run(async context => await forwarder.SendAsync(context, target, client));
app.Run();
