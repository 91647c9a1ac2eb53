using System.Diagnostics;
using System.Formats.Tar;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// The container images as <c>./dw images</c> writes them: the folder named by DW_IMAGES (CI builds them there before
/// the tests, with the tag DW_IMAGES_TAG), or else built here into a folder of the fixture's own.
/// </summary>
public sealed class ContainerImages : IAsyncLifetime
{
    private readonly string? built;

    public ContainerImages()
    {
        if (Environment.GetEnvironmentVariable("DW_IMAGES") is { Length: > 0 } folder)
        {
            Folder = Path.GetFullPath(folder);
            Tag = Environment.GetEnvironmentVariable("DW_IMAGES_TAG") is { Length: > 0 } tag ? tag : "latest";
        }
        else
        {
            built = Folder = Path.Combine(Path.GetTempPath(), "dw-images-" + Guid.NewGuid().ToString("N")[..12]);
            Tag = "test-" + Guid.NewGuid().ToString("N")[..8];
        }
    }

    public string Folder { get; }

    public string Tag { get; }

    public string Archive(string repository) => Path.Combine(Folder, repository + ".tar");

    public async ValueTask InitializeAsync()
    {
        if (built is null) return;
        var repository = TestDirectories.RepositoryRoot();
        var start = new ProcessStartInfo(Path.Combine(repository, "dw"), ["images", "--tag", Tag, "--output", built])
        {
            WorkingDirectory = repository,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"./dw images failed ({process.ExitCode}): {await output}{await errors}");
    }

    public ValueTask DisposeAsync()
    {
        if (built is not null) TestDirectories.Delete(built);
        return ValueTask.CompletedTask;
    }
}

/// <summary>An image archive's OCI layout, read without unpacking its layers: its name, tag and configuration.</summary>
public sealed record ImageArchive(string Name, string Tag, JsonElement Config)
{
    public static ImageArchive Read(string path)
    {
        var documents = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var reader = new TarReader(File.OpenRead(path)))
        {
            while (reader.GetNextEntry() is { } entry)
            {
                // Manifests, configurations and the index are small; layers are not.
                if (entry.DataStream is null || entry.Length > 1 << 20) continue;
                using var copy = new MemoryStream();
                entry.DataStream.CopyTo(copy);
                documents[entry.Name.TrimStart('.', '/')] = copy.ToArray();
            }
        }

        JsonElement Document(string name) => JsonDocument.Parse(documents[name]).RootElement;
        JsonElement Blob(JsonElement descriptor) => Document("blobs/" + descriptor.GetProperty("digest").GetString()!.Replace(':', '/'));

        var image = Assert.Single(Document("index.json").GetProperty("manifests").EnumerateArray());
        var annotations = image.GetProperty("annotations");
        var manifest = Blob(image);
        return new ImageArchive(
            annotations.GetProperty("io.containerd.image.name").GetString()!,
            annotations.GetProperty("org.opencontainers.image.ref.name").GetString()!,
            Blob(manifest.GetProperty("config")).GetProperty("config"));
    }
}

/// <summary>
/// The images are named and tagged as the published task definitions name them, run as a non-root user, and carry
/// what the task definitions count on (entrypoint, port); the web image starts from its unpacked root filesystem, with
/// its own entrypoint, environment and user and the task definitions' commands and environment, migrates the test
/// PostgreSQL and answers its health endpoints and the task definition's container health check.
/// </summary>
public sealed class ContainerImageTests(ContainerImages images, PublishedEcsDeployment published, PostgresCluster postgres)
    : IClassFixture<ContainerImages>, IClassFixture<PublishedEcsDeployment>, IClassFixture<PostgresCluster>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public void Every_image_a_task_definition_names_is_built_as_that_repository_and_tag_and_runs_as_a_non_root_user()
    {
        var tool = JsonDocument.Parse(File.ReadAllText(Path.Combine(published.Ecs, "tools", "tool-example.json"))).RootElement;
        // The example tool task shows the sidecars image in the tool's place: its names count, its tool port does not.
        var containers = published.TaskDefinitions.Values.SelectMany(d => d.GetProperty("containerDefinitions").EnumerateArray()).Select(c => (Container: c, Platform: true))
            .Concat(tool.GetProperty("containerDefinitions").EnumerateArray().Select(c => (Container: c, Platform: false))).ToList();
        Assert.NotEmpty(containers);

        foreach (var (container, platform) in containers)
        {
            var image = container.GetProperty("image").GetString()!;
            var prefix = PublishedEcsDeployment.Registry + "/";
            Assert.StartsWith(prefix, image, StringComparison.Ordinal);
            var repository = image[prefix.Length..image.LastIndexOf(':')];
            Assert.True(File.Exists(images.Archive(repository)), $"{container.GetProperty("name")} runs {image}, but ./dw images wrote no {repository}.tar (it wrote: {string.Join(", ", Directory.GetFiles(images.Folder).Select(Path.GetFileName))})");

            var archive = ImageArchive.Read(images.Archive(repository));
            Assert.EndsWith($"/{repository}:{images.Tag}", archive.Name, StringComparison.Ordinal);
            Assert.Equal(images.Tag, archive.Tag);
            var user = archive.Config.GetProperty("User").GetString();
            Assert.False(string.IsNullOrEmpty(user) || user is "0" or "root", $"{repository} runs as root ({user})");
            var entrypoint = archive.Config.GetProperty("Entrypoint")[0].GetString()!;
            Assert.StartsWith("/app/", entrypoint, StringComparison.Ordinal);

            // A container health check that runs the image's own executable names the one the image has.
            if (container.TryGetProperty("healthCheck", out var check) && check.GetProperty("command")[1].GetString() is { } checker && checker.StartsWith("/app/", StringComparison.Ordinal))
                Assert.Equal(entrypoint, checker);
            if (platform && container.TryGetProperty("portMappings", out var ports))
                foreach (var port in ports.EnumerateArray())
                    Assert.True(archive.Config.GetProperty("ExposedPorts").TryGetProperty($"{port.GetProperty("containerPort").GetInt32()}/{(port.TryGetProperty("protocol", out var protocol) ? protocol.GetString() : "tcp")}", out _),
                        $"{repository} does not expose {port}");
        }
    }

    [Fact]
    public async Task The_web_image_migrates_the_database_then_answers_its_health_endpoints_from_its_own_root_filesystem()
    {
        await using var image = await UnpackedImage.UnpackAsync(images.Archive("dataworkspace-web"), Cancel);
        var catalogue = await postgres.CreateDatabaseAsync("catalogue");
        var datasets = await postgres.CreateDatabaseAsync("datasets");
        var secrets = new Dictionary<string, string>
        {
            ["catalogue"] = catalogue,
            ["datasets"] = datasets,
        };

        var migrations = ContainerOf(published.TaskDefinitions["migrations"]);
        var (exitCode, output) = await image.RunToEndAsync(Command(migrations), Environment(migrations, secrets, port: null));
        Assert.True(exitCode == 0, $"The migrations task exited with {exitCode}: {output}");

        var web = ContainerOf(published.TaskDefinitions["web"]);
        var port = Ports.Free();
        await using var running = image.Start(Command(web), Environment(web, secrets, port));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        var health = await running.WhenAnsweringAsync(http, "/health", Cancel);

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Healthy", await health.Content.ReadAsStringAsync(Cancel));
        // The portal's own check asks the catalogue database, which the app reached from inside its root filesystem.
        Assert.Equal("OK", await http.GetStringAsync("/healthcheck", Cancel));

        // ECS runs the task definition's health check inside the container: bash asking the app's port.
        var check = web.GetProperty("healthCheck").GetProperty("command").EnumerateArray().Select(c => c.GetString()!).ToList();
        Assert.Equal("CMD", check[0]);
        var (checkExit, checkOutput) = await image.RunToEndAsync(
            [.. check.Skip(1).Select(c => c.Replace($"/localhost/{EcsPort}", $"/localhost/{port}", StringComparison.Ordinal))], new Dictionary<string, string>(), afterEntrypoint: false);
        Assert.True(checkExit == 0, $"The task definition's health check failed ({checkExit}): {checkOutput}");
    }

    private const int EcsPort = 8080;

    private static JsonElement ContainerOf(JsonElement taskDefinition) => taskDefinition.GetProperty("containerDefinitions")[0];

    private static List<string> Command(JsonElement container) =>
        container.TryGetProperty("command", out var command) ? [.. command.EnumerateArray().Select(c => c.GetString()!)] : [];

    /// <summary>
    /// The container's environment as ECS sets it: the task definition's variables and its secrets (test values for
    /// the SSM parameters they name). The test shares this machine's network, where each task has its own, so the
    /// app listens on a free port instead of the task's 8080.
    /// </summary>
    private static Dictionary<string, string> Environment(JsonElement container, Dictionary<string, string> secretValues, int? port)
    {
        var environment = container.GetProperty("environment").EnumerateArray()
            .ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("value").GetString()!, StringComparer.Ordinal);
        if (container.TryGetProperty("secrets", out var secrets))
            foreach (var secret in secrets.EnumerateArray())
            {
                var parameter = secret.GetProperty("valueFrom").GetString()!.Split('/')[^1];
                environment[secret.GetProperty("name").GetString()!] = secretValues.TryGetValue(parameter, out var value) ? value : Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            }

        if (port is { } free)
        {
            Assert.Equal(EcsPort.ToString(System.Globalization.CultureInfo.InvariantCulture), environment["HTTP_PORTS"]);
            environment["HTTP_PORTS"] = environment["ASPNETCORE_HTTP_PORTS"] = free.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return environment;
    }
}

/// <summary>
/// An image unpacked by umoci into an OCI runtime bundle (its root filesystem and the process the image describes:
/// entrypoint, environment, user, working directory). As root, each process runs chrooted into the root filesystem as
/// the image's user, with /proc and /dev mounted and, as a container runtime gives them, this machine's /etc/hosts and
/// /etc/resolv.conf, all in a mount namespace of its own (so nothing stays mounted when it ends). Without root there is no chroot: the image's self-contained executable runs from the root filesystem as is.
/// </summary>
public sealed class UnpackedImage : IAsyncDisposable
{
    private static readonly bool IsRoot = System.Environment.UserName == "root";
    private readonly string folder;
    private readonly List<string> entrypoint;
    private readonly Dictionary<string, string> environment;
    private readonly string user;
    private readonly string workingDirectory;

    private UnpackedImage(string folder, JsonElement process)
    {
        this.folder = folder;
        entrypoint = [.. process.GetProperty("args").EnumerateArray().Select(a => a.GetString()!)];
        environment = process.GetProperty("env").EnumerateArray().Select(e => e.GetString()!.Split('=', 2)).ToDictionary(e => e[0], e => e[1], StringComparer.Ordinal);
        var identity = process.GetProperty("user");
        user = $"{identity.GetProperty("uid").GetInt32()}:{identity.GetProperty("gid").GetInt32()}";
        workingDirectory = process.GetProperty("cwd").GetString()!;
    }

    private string RootFilesystem => Path.Combine(folder, "bundle", "rootfs");

    public static async Task<UnpackedImage> UnpackAsync(string archive, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), "dw-image-" + Guid.NewGuid().ToString("N")[..12]);
        var layout = Path.Combine(folder, "layout");
        Directory.CreateDirectory(layout);
        await TarFile.ExtractToDirectoryAsync(archive, layout, overwriteFiles: false, cancellationToken);
        var tag = ImageArchive.Read(archive).Tag;
        var (exitCode, output) = await RunAsync("umoci", ["unpack", .. (IsRoot ? Array.Empty<string>() : ["--rootless"]), "--image", $"{layout}:{tag}", Path.Combine(folder, "bundle")], null, cancellationToken);
        Assert.True(exitCode == 0, $"umoci unpack failed ({exitCode}): {output}");
        var bundle = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "bundle", "config.json"), cancellationToken)).RootElement;
        return new UnpackedImage(folder, bundle.GetProperty("process"));
    }

    /// <summary>The image's entrypoint with <paramref name="command"/> after it, as ECS runs a task definition's command; or the command alone (a container health check).</summary>
    public RunningContainer Start(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> taskEnvironment, bool afterEntrypoint = true)
    {
        var process = Process.Start(StartInfo(afterEntrypoint ? [.. entrypoint, .. command] : command, taskEnvironment))!;
        return new RunningContainer(process);
    }

    public async Task<(int ExitCode, string Output)> RunToEndAsync(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> taskEnvironment, bool afterEntrypoint = true)
    {
        await using var container = Start(command, taskEnvironment, afterEntrypoint);
        await container.Process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (container.Process.ExitCode, container.Output);
    }

    private ProcessStartInfo StartInfo(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> taskEnvironment)
    {
        ProcessStartInfo start;
        if (IsRoot)
        {
            const string Script = "root=$0 user=$1; shift; mkdir -p \"$root/proc\" \"$root/dev\" && touch \"$root/etc/hosts\" \"$root/etc/resolv.conf\" && mount -t proc proc \"$root/proc\" && mount --bind /dev \"$root/dev\" && mount --bind /etc/hosts \"$root/etc/hosts\" && mount --bind /etc/resolv.conf \"$root/etc/resolv.conf\" && exec chroot --userspec=\"$user\" \"$root\" /bin/sh -c 'cd \"$0\" && exec \"$@\"' \"$@\"";
            start = new ProcessStartInfo("/usr/bin/unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", Script, RootFilesystem, user, workingDirectory, .. arguments]);
        }
        else
        {
            start = new ProcessStartInfo(RootFilesystem + arguments[0], arguments.Skip(1)) { WorkingDirectory = RootFilesystem + workingDirectory };
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.Environment.Clear();
        foreach (var (name, value) in environment.Concat(taskEnvironment)) start.Environment[name] = value;
        // The host's tools (unshare, mount, chroot) before the image's own PATH takes over inside.
        if (IsRoot) start.Environment["PATH"] = environment.GetValueOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        return start;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, string? workingDirectory, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, await output + await errors);
    }

    public ValueTask DisposeAsync()
    {
        // The mounts lived in the processes' own namespaces; none may remain under the folder before it is deleted.
        if (!File.ReadAllText("/proc/self/mountinfo").Contains(folder, StringComparison.Ordinal)) TestDirectories.Delete(folder);
        return ValueTask.CompletedTask;
    }
}

/// <summary>A process started from an image, its output kept for failure messages; stopped when disposed.</summary>
public sealed class RunningContainer : IAsyncDisposable
{
    private readonly System.Text.StringBuilder output = new();

    public RunningContainer(Process process)
    {
        Process = process;
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Output { get { lock (output) return output.ToString(); } }

    /// <summary>The first answer to GET <paramref name="path"/>, asked until the app listens (or has exited, which fails with its output).</summary>
    public async Task<HttpResponseMessage> WhenAnsweringAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            Assert.False(Process.HasExited, $"The app exited ({(Process.HasExited ? Process.ExitCode : 0)}) before answering {path}: {Output}");
            try
            {
                return await http.GetAsync(path, cancellationToken);
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(250, cancellationToken);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            await Process.WaitForExitAsync();
        }

        Process.Dispose();
    }
}
