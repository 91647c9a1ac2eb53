using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Hosting;

namespace DataWorkspace.Sidecars;

/// <summary><c>sample-app [--port N] [--host H]</c>: runs <see cref="SampleApp"/> until stopped.</summary>
public static class SampleAppCommand
{
    public const int NoPortExitCode = 2;
    public const int CannotListenExitCode = 1;

    public static Command Create()
    {
        var port = new Option<int?>("--port") { Description = "The port to listen on; defaults to the PORT environment variable" };
        port.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is not (>= 1 and <= 65535))
                result.AddError("--port must be a port number from 1 to 65535.");
        });
        var host = new Option<string>("--host") { Description = "The IP address (or localhost) to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        host.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (!SampleApp.IsListenableHost(value))
                result.AddError($"--host must be an IP address or localhost; '{value}' is not.");
        });
        var command = new Command("sample-app", "Runs the platform's small built-in sample tool: a web server that greets the signed-in user and echoes requests and WebSocket messages.") { port, host };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var listenHost = parseResult.GetValue(host)!;
            var listenPort = parseResult.GetValue(port);
            if (listenPort is null)
            {
                var fromEnvironment = Environment.GetEnvironmentVariable("PORT");
                if (string.IsNullOrEmpty(fromEnvironment))
                {
                    Console.Error.WriteLine("The sample app needs a port: pass --port N or set the PORT environment variable.");
                    return NoPortExitCode;
                }
                if (!int.TryParse(fromEnvironment, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed is < 1 or > 65535)
                {
                    Console.Error.WriteLine($"The PORT environment variable is '{fromEnvironment}', not a port number from 1 to 65535.");
                    return NoPortExitCode;
                }
                listenPort = parsed;
            }

            var address = SampleApp.Address(listenHost, listenPort.Value);
            await using var app = SampleApp.Build(listenHost, listenPort.Value);
            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (IOException exception)
            {
                Console.Error.WriteLine($"The sample app cannot listen on {address}: {exception.Message}");
                return CannotListenExitCode;
            }
            Console.WriteLine($"Sample app listening on {address}");
            await app.WaitForShutdownAsync(cancellationToken);
            return 0;
        });
        return command;
    }
}
