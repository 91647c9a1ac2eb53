using System.Net;
using System.Net.Sockets;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars;

/// <summary>
/// What every long-running sidecar does the same way: JSON lines on standard output (searchable by field in the
/// orchestrator's log store), the framework's own chatter only from Warning, an HTTP side (health, metrics) only when it
/// has a port, and a start that says in one line why it could not listen.
/// </summary>
public static class SidecarHosting
{
    public const int BadSettingsExitCode = 2;
    public const int CannotStartExitCode = 1;

    /// <summary>
    /// The sidecar's host, not yet started: a plain host when <paramref name="http"/> is null, otherwise a slim web host
    /// listening there with <paramref name="map"/>'s endpoints. <paramref name="configureLogging"/> replaces the JSON
    /// console log (tests collect the events).
    /// </summary>
    public static IHost Build(IPEndPoint? http, Action<IHostApplicationBuilder> configure, Action<WebApplication>? map = null, Action<ILoggingBuilder>? configureLogging = null)
    {
        if (http is null)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
            UseSidecarLogging(builder.Logging, configureLogging);
            configure(builder);
            return builder.Build();
        }

        var webBuilder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        UseSidecarLogging(webBuilder.Logging, configureLogging);
        configure(webBuilder);
        webBuilder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(http);
        });
        var app = webBuilder.Build();
        map?.Invoke(app);
        return app;
    }

    /// <summary>Starts the host and runs it until SIGTERM; a socket it cannot take ends it with one line on standard error.</summary>
    public static async Task<int> RunAsync(IHost host, string cannotStart, CancellationToken cancellationToken)
    {
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is SocketException or IOException or AddressInUseException)
        {
            await Console.Error.WriteLineAsync($"{cannotStart}: {exception.Message}");
            return CannotStartExitCode;
        }

        await host.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    /// <summary>Says what is wrong with the settings, all at once, and where the help is.</summary>
    public static int BadSettings(IEnumerable<string> problems, string command)
    {
        foreach (var problem in problems)
            Console.Error.WriteLine(problem);
        Console.Error.WriteLine($"Run 'dataworkspace-sidecar {command} --help' for the options and examples.");
        return BadSettingsExitCode;
    }

    private static void UseSidecarLogging(ILoggingBuilder logging, Action<ILoggingBuilder>? configureLogging)
    {
        logging.ClearProviders();
        if (configureLogging is null)
        {
            logging.AddJsonConsole(json =>
            {
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                // Rules and paths stay readable (+, >, ') instead of \u002B escapes: the lines are read, not embedded in HTML.
                json.JsonWriterOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            });
        }
        else
        {
            configureLogging(logging);
        }

        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Amazon", LogLevel.Warning);
    }
}
