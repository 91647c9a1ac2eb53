using System.Text.RegularExpressions;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;

namespace DataWorkspace.Architecture.Tests;

/// <summary>
/// Every table has one owner: the web app maps and migrates its own, the proxy keeps its own in the <c>proxy</c>
/// schema, and neither reads or writes the other's with SQL (what one needs of the other goes through its API).
/// </summary>
public sealed partial class OneOwnerPerTable
{
    private const string ProxySchema = "proxy";

    [Fact]
    public void The_proxy_reads_and_writes_only_tables_in_its_own_schema()
    {
        var foreign = ProxyTables().Where(use => !use.Table.StartsWith(ProxySchema + ".", StringComparison.Ordinal))
            .Select(use => $"{use.Table} in {use.Where}: {Excerpt(use.Sql)}").Distinct().ToList();
        Assert.True(foreign.Count == 0, $"The proxy's SQL names tables outside the '{ProxySchema}' schema:\n{string.Join('\n', foreign)}");
    }

    [Fact]
    public void The_web_app_maps_no_table_the_proxy_uses()
    {
        var proxy = ProxyTables().Select(use => use.Table).ToHashSet(StringComparer.Ordinal);
        var shared = WebTables()
            .Where(table => table.Schema == ProxySchema || proxy.Contains($"{table.Schema}.{table.Name}"))
            .Select(table => $"{table.Schema}.{table.Name} ({table.Context}.{table.Entity})").ToList();
        Assert.True(shared.Count == 0, $"The web app maps tables the proxy owns or uses:\n{string.Join('\n', shared)}");
    }

    [Fact]
    public void The_web_apps_sql_names_no_table_in_the_proxys_schema()
    {
        var foreign = SqlTables(typeof(CatalogueDbContext).Assembly).Where(use => use.Table.StartsWith(ProxySchema + ".", StringComparison.Ordinal))
            .Select(use => $"{use.Table} in {use.Where}: {Excerpt(use.Sql)}").Distinct().ToList();
        Assert.True(foreign.Count == 0, $"The web app's SQL names the proxy's tables:\n{string.Join('\n', foreign)}");
    }

    private static List<(string Table, string Where, string Sql)> ProxyTables() => SqlTables(typeof(DataWorkspace.Proxy.ProxyOptions).Assembly);

    /// <summary>The tables an assembly's SQL names (schema-qualified, <c>public</c> when it names none), from the string literals compiled into it.</summary>
    private static List<(string Table, string Where, string Sql)> SqlTables(System.Reflection.Assembly assembly)
    {
        var uses = new List<(string, string, string)>();
        foreach (var (type, text) in Sources.StringLiterals(assembly))
        {
            if (!Statement().IsMatch(text)) continue;
            var named = CommonTableExpression().Matches(text).Select(match => match.Groups["name"].Value).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (Match match in TableReference().Matches(text))
            {
                var table = match.Groups["table"].Value.Replace("\"", "", StringComparison.Ordinal);
                if (table.Length == 0)
                    uses.Add(("(a table named at run time: name it in a constant)", type, text));
                else if (!match.Groups["call"].Success && !named.Contains(table) && table is not ("LATERAL" or "ONLY"))
                    uses.Add((table.Contains('.') ? table : "public." + table, type, text));
            }
        }

        return uses;
    }

    /// <summary>The tables of every EF Core context in the web app, as the EF tools build them.</summary>
    private static List<(string Schema, string Name, string Context, string Entity)> WebTables()
    {
        var factories = typeof(CatalogueDbContext).Assembly.GetTypes()
            .Where(type => type is { IsClass: true, IsAbstract: false } && type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDesignTimeDbContextFactory<>)));
        var tables = new List<(string, string, string, string)>();
        foreach (var factory in factories)
        {
            var create = factory.GetMethod(nameof(IDesignTimeDbContextFactory<DbContext>.CreateDbContext))!;
            using var context = (DbContext)create.Invoke(Activator.CreateInstance(factory), [Array.Empty<string>()])!;
            foreach (var entity in context.GetService<IDesignTimeModel>().Model.GetEntityTypes())
                if (entity.GetTableName() is { } name)
                    tables.Add((entity.GetSchema() ?? "public", name, context.GetType().Name, entity.ClrType.Name));
        }

        Assert.NotEmpty(tables);
        return tables;
    }

    private static string Excerpt(string sql) => Regex.Replace(sql, @"\s+", " ").Trim() is var line && line.Length > 120 ? line[..120] + "..." : line;

    // The code writes SQL keywords in capitals; English text in messages does not start statements with them.
    [GeneratedRegex(@"\b(SELECT|INSERT|UPDATE|DELETE|WITH|TRUNCATE)\b")]
    private static partial Regex Statement();

    [GeneratedRegex(@"(?:\bWITH\s+(?:RECURSIVE\s+)?|,\s*)(?<name>\w+)\s+AS\s*(?:NOT\s+)?(?:MATERIALIZED\s+)?\(")]
    private static partial Regex CommonTableExpression();

    [GeneratedRegex(@"(?:\bINSERT\s+INTO|(?<!\b(?:DO|FOR|NO\s+KEY)\s+)\bUPDATE|\bDELETE\s+FROM|\bFROM|\bJOIN|\bTRUNCATE(?:\s+TABLE)?)(?:\s+(?<table>""?[A-Za-z_][\w$]*""?(?:\.""?[A-Za-z_][\w$]*""?)?)(?<call>\s*\()?|\s*$)")]
    private static partial Regex TableReference();
}
