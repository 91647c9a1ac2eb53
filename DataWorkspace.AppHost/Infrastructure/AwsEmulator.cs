namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>
/// The AWS APIs the platform calls (S3, STS, ECS): LocalStack when containers run, otherwise moto_server (the library
/// LocalStack is built on) as a local executable. Both listen on one HTTP endpoint.
/// </summary>
public static class AwsEmulator
{
    public const string Region = "us-east-1";
    private const string AccessKeyId = "test";
    private const string SecretAccessKey = "test";

    public static IResourceBuilder<IResourceWithEndpoints> AddAwsEmulator(this IDistributedApplicationBuilder builder, string name, InfrastructureMode mode)
    {
        if (mode == InfrastructureMode.Containers)
        {
            return builder.AddContainer(name, "localstack/localstack", "4.9")
                .WithEnvironment("SERVICES", "s3,sts,ecs,iam")
                .WithHttpEndpoint(targetPort: 4566, name: "http")
                .WithPromptHttpHealthCheck("/_localstack/health");
        }

        var port = LocalState.FreePort();
        var portText = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // moto logs each request to stderr; through sh it reaches the dashboard as ordinary output, not errors.
        return builder.AddExecutable(name, "/bin/sh", builder.AppHostDirectory, "-c", "exec \"$0\" \"$@\" 2>&1", LocalPrerequisites.MotoServer() ?? throw new InvalidOperationException(LocalPrerequisites.Missing()), "-H", "127.0.0.1", "-p", portText)
            .WithHttpEndpoint(port: port, targetPort: port, name: "http", isProxied: false)
            .WithPromptHttpHealthCheck("/moto-api/");
    }

    /// <summary>Gives a project the emulator's endpoint and credentials through configuration (the Aws section).</summary>
    public static IResourceBuilder<T> WithAwsEmulator<T>(this IResourceBuilder<T> project, IResourceBuilder<IResourceWithEndpoints> aws)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
        => project
            .WithEnvironment("Aws__ServiceUrl", aws.GetEndpoint("http"))
            .WithEnvironment("Aws__Region", Region)
            .WithEnvironment("AWS_ACCESS_KEY_ID", AccessKeyId)
            .WithEnvironment("AWS_SECRET_ACCESS_KEY", SecretAccessKey)
            .WaitFor(aws);
}
