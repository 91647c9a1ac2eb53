using System.CommandLine;
using System.Globalization;
using System.IO.Enumeration;
using System.Runtime.InteropServices;

namespace DataWorkspace.Sidecars;

/// <summary>
/// <c>home-owner --path DIR --owner UID:GID</c>: gives a tool's home folder, and everything in it, to the tool's user.
/// Run as root before the tool and s3sync start: Fargate makes a task's volume root-owned, so without it neither could
/// write there unless the tool image happened to declare the folder as a VOLUME owned by that user.
/// </summary>
public static partial class HomeOwnerCommand
{
    public static Command Create()
    {
        var path = new Option<string>("--path") { Description = "The home folder, e.g. /home/analyst", Required = true };
        var owner = new Option<string>("--owner") { Description = "The numeric user and group that get it, e.g. 1654:1654", Required = true };
        owner.Validators.Add(result =>
        {
            if (!TryParseOwner(result.GetValueOrDefault<string>(), out _, out _))
                result.AddError($"--owner must be a numeric uid:gid such as 1654:1654; '{result.GetValueOrDefault<string>()}' is not.");
        });
        var command = new Command("home-owner", "Gives a home folder and its contents to the tool's user; for a task's first, short-lived container.") { path, owner };
        command.SetAction(parseResult =>
        {
            var home = parseResult.GetValue(path)!;
            TryParseOwner(parseResult.GetValue(owner), out var uid, out var gid);
            if (!Directory.Exists(home))
            {
                Console.Error.WriteLine($"{home} is not a folder: mount the task's home volume there.");
                return 1;
            }

            var changed = 0;
            try
            {
                Change(home, uid, gid);
                changed++;
                foreach (var entry in EntriesWithin(home))
                {
                    Change(entry, uid, gid);
                    changed++;
                }
            }
            catch (IOException exception)
            {
                Console.Error.WriteLine($"{exception.Message} (this container must run as root: user 0 in its task definition).");
                return 1;
            }

            Console.WriteLine($"{home}: {changed.ToString("N0", CultureInfo.InvariantCulture)} entries now owned by {uid}:{gid}");
            return 0;
        });
        return command;
    }

    // Symbolic links are given themselves (lchown) and never followed, so nothing outside the home folder changes owner.
    private static FileSystemEnumerable<string> EntriesWithin(string home) =>
        new(home, (ref FileSystemEntry entry) => entry.ToFullPath(), new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.None, IgnoreInaccessible = false })
        {
            ShouldRecursePredicate = (ref FileSystemEntry entry) => (entry.Attributes & FileAttributes.ReparsePoint) == 0,
        };

    private static bool TryParseOwner(string? value, out uint uid, out uint gid)
    {
        uid = gid = 0;
        var parts = (value ?? "").Split(':');
        return parts.Length == 2
            && uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out uid)
            && uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out gid);
    }

    private static void Change(string path, uint uid, uint gid)
    {
        if (LChown(path, uid, gid) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            throw new IOException($"Could not give {path} to {uid}:{gid}: {Marshal.GetPInvokeErrorMessage(error)}");
        }
    }

    // .NET has no API for a file's owner; lchown is POSIX and in every Linux libc.
    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, uint owner, uint group);
}
