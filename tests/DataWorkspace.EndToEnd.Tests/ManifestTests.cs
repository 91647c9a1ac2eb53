using System.Diagnostics;
using System.Reflection;
using System.Text.Json;

namespace DataWorkspace.EndToEnd.Tests;

public sealed class ManifestTests
{
    [Fact]
    public async Task Publishing_a_manifest_names_every_resource_of_the_deployed_graph()
    {
        var cancel = TestContext.Current.CancellationToken;
        var output = Path.Combine(Path.GetTempPath(), "dw-manifest-" + Guid.NewGuid().ToString("N")[..12]);
        var manifestPath = Path.Combine(output, "aspire-manifest.json");
        // The AppHost was built with the tests, in the same configuration.
        var configuration = typeof(ManifestTests).Assembly.GetCustomAttribute<System.Reflection.AssemblyConfigurationAttribute>()!.Configuration;
        try
        {
            var start = new ProcessStartInfo("dotnet",
            [
                "run", "--project", Projects.DataWorkspace_AppHost.ProjectPath, "--no-build", "--configuration", configuration,
                "--", "--publisher", "manifest", "--output-path", manifestPath,
            ])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var log = process.StandardOutput.ReadToEndAsync(cancel);
            var errors = process.StandardError.ReadToEndAsync(cancel);
            await process.WaitForExitAsync(cancel);
            Assert.True(process.ExitCode == 0, $"manifest publishing failed ({process.ExitCode}): {await log}{await errors}");

            using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(manifestPath, cancel));
            var resources = manifest.RootElement.GetProperty("resources").EnumerateObject().ToDictionary(r => r.Name, r => r.Value.GetProperty("type").GetString());

            Assert.Equal("project.v0", resources["web"]);
            Assert.Equal("project.v0", resources["proxy"]);
            Assert.Equal("project.v0", resources["migrations"]);
            Assert.Equal("project.v0", resources["proxy-migrations"]);
            Assert.Equal("project.v0", resources["dns-rewrite"]);
            // The organisation's PostgreSQL is given as two secret connection strings; the deployment runs none of its own.
            Assert.DoesNotContain("postgres", resources.Keys);
            Assert.DoesNotContain("postgres-password", resources.Keys);
            foreach (var database in new[] { "catalogue", "datasets" })
            {
                var resource = manifest.RootElement.GetProperty("resources").GetProperty(database);
                Assert.Equal("parameter.v0", resources[database]);
                Assert.Equal($"{{{database}.value}}", resource.GetProperty("connectionString").GetString());
                Assert.True(resource.GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean(), $"{database} is not secret");
            }

            foreach (var parameter in new[] { "identity-signing-key", "oidc-client-secret", "oidc-authority", "oidc-client-id", "root-domain", "aws-region", "ip-allow-list", "files-bucket", "tools-role-arn", "tools-cluster", "tools-subnets", "tools-security-groups", "execution-role-arn", "web-task-role-arn", "image-registry", "image-tag", "dns-upstream" })
                Assert.Equal("parameter.v0", resources[parameter]);
            // The development identity provider and the AWS emulator are for local runs only.
            Assert.DoesNotContain("identity", resources.Keys);
            Assert.DoesNotContain("aws", resources.Keys);
            // Publishing with no parameter values still writes the ECS deployment, beside the manifest.
            Assert.True(File.Exists(Path.Combine(output, "ecs", "cloudformation.json")), "ecs/cloudformation.json was not written beside the manifest");
        }
        finally
        {
            TestDirectories.Delete(output);
        }
    }
}
