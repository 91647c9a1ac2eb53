// The floor under the proxy in bench/Tools: every request forwarded as it is to one address with YARP's
// IHttpForwarder, no sign-in, no routing, no telemetry, no logging. Not part of the platform.
// Run: BARE_FORWARDER_TARGET=http://127.0.0.1:PORT ASPNETCORE_URLS=http://127.0.0.1:OTHER BareForwarder
using System.Net;
using Yarp.ReverseProxy.Forwarder;

var target = Environment.GetEnvironmentVariable("BARE_FORWARDER_TARGET")
    ?? throw new InvalidOperationException("Set BARE_FORWARDER_TARGET to the address to forward to, e.g. http://127.0.0.1:5000");
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
builder.Services.AddHttpForwarder();
var app = builder.Build();
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
