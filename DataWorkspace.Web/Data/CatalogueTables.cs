using System.Reflection;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Data;

/// <summary>
/// Marks a feature's class that maps the feature's own tables in its <c>public static void Configure(ModelBuilder)</c>.
/// <see cref="CatalogueDbContext"/> applies every marked class in this assembly, so the context names no feature.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class CatalogueTablesAttribute : Attribute
{
    /// <summary>Each feature's mapping, in the order of its class's full name.</summary>
    public static IEnumerable<Action<ModelBuilder>> InAssembly(Assembly assembly) =>
        assembly.GetTypes().Where(type => type.IsDefined(typeof(CatalogueTablesAttribute), inherit: false)).OrderBy(type => type.FullName, StringComparer.Ordinal)
            .Select(type => type.GetMethod("Configure", BindingFlags.Public | BindingFlags.Static, [typeof(ModelBuilder)])?.CreateDelegate<Action<ModelBuilder>>()
                ?? throw new InvalidOperationException($"{type.FullName} is marked [CatalogueTables] but has no public static void Configure(ModelBuilder)."));
}
