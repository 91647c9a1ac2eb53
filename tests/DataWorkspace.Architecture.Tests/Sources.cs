using System.Reflection;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace DataWorkspace.Architecture.Tests;

/// <summary>The repository's source files and the string literals compiled into an assembly, for the rules that read them.</summary>
public static class Sources
{
    public static readonly string Root = FindRoot();

    /// <summary>A project's C# and Razor files, without build output, npm packages and generated migrations.</summary>
    public static IEnumerable<string> Files(string project, params string[] extensions) =>
        extensions.SelectMany(extension => Directory.EnumerateFiles(Path.Combine(Root, project), "*" + extension, SearchOption.AllDirectories))
            .Select(path => Path.GetRelativePath(Path.Combine(Root, project), path).Replace('\\', '/'))
            .Where(path => !path.Split('/').Any(part => part is "bin" or "obj" or "node_modules") && !path.StartsWith("Data/Migrations/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);

    /// <summary>The lines of a file that are code, not comments.</summary>
    public static IEnumerable<(int Number, string Text)> CodeLines(string project, string path) =>
        File.ReadLines(Path.Combine(Root, project, path)).Select((text, index) => (index + 1, text))
            .Where(line => line.text.TrimStart() is var trimmed && !trimmed.StartsWith("//", StringComparison.Ordinal) && !trimmed.StartsWith("@*", StringComparison.Ordinal));

    /// <summary>Every string literal in the assembly's code (constants folded in by the compiler included), with the type that holds it.</summary>
    public static List<(string Type, string Text)> StringLiterals(Assembly assembly)
    {
        using var module = ModuleDefinition.ReadModule(assembly.Location);
        return [.. from type in module.GetTypes()
            from method in type.Methods
            where method.HasBody
            from instruction in method.Body.Instructions
            where instruction.OpCode == OpCodes.Ldstr
            select (type.FullName, (string)instruction.Operand)];
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "DataWorkspace.sln"))) return directory.FullName;
        throw new InvalidOperationException($"No DataWorkspace.sln above {AppContext.BaseDirectory}: the architecture tests read the sources.");
    }
}
