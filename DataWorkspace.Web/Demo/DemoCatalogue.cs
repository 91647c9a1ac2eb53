using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.ReferenceData;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace DataWorkspace.Web.Demo;

/// <summary>
/// A believable catalogue for local runs: datasets of every type and access type, with real tables of a few thousand
/// rows in the datasets database. Idempotent: entries are matched by slug and tables are filled only when empty.
/// </summary>
public static class DemoCatalogue
{
    public const string Option = "--demo-data";
    private const string Department = "Department for Business and Trade";
    private const string Owner = "morgan.lee@trade.example";

    public static async Task SeedAsync(CatalogueDbContext catalogue, string datasetsConnectionString, ILogger logger, CancellationToken cancellationToken)
    {
        await using (var datasets = new NpgsqlConnection(datasetsConnectionString))
        {
            await datasets.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand(TablesSql, datasets);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var now = DateTimeOffset.UtcNow;
        var tags = new Dictionary<(TagType, string), Tag>();
        foreach (var tag in await catalogue.Tags.ToListAsync(cancellationToken)) tags[(tag.Type, tag.Name)] = tag;
        Tag TagOf(TagType type, string name)
        {
            if (!tags.TryGetValue((type, name), out var tag))
            {
                tag = new Tag { Type = type, Name = name };
                tags[(type, name)] = tag;
                catalogue.Tags.Add(tag);
            }

            return tag;
        }

        var existing = (await catalogue.Datasets.Select(d => d.Slug).ToListAsync(cancellationToken)).ToHashSet();
        var added = 0;
        foreach (var entry in Entries())
        {
            if (existing.Contains(entry.Dataset.Slug)) continue;
            var dataset = entry.Dataset;
            dataset.Published = entry.Published;
            dataset.PublishedAt = entry.Published ? now.AddDays(-entry.AgeDays) : null;
            dataset.CreatedAt = dataset.UpdatedAt = now.AddDays(-entry.AgeDays);
            dataset.InformationAssetOwner = Owner;
            dataset.InformationAssetManager = Owner;
            dataset.Tags = [.. entry.Topics.Select(t => TagOf(TagType.Topic, t)), TagOf(TagType.Source, entry.Source)];
            catalogue.Datasets.Add(dataset);
            added++;
        }

        await catalogue.SaveChangesAsync(cancellationToken);
        await AdoptReferenceTablesAsync(catalogue, datasetsConnectionString, cancellationToken);
        logger.LogInformation("Demo catalogue: {Added} dataset(s) added, {Existing} already present", added, existing.Count);
    }

    private sealed record Entry(Dataset Dataset, string[] Topics, string Source, int AgeDays, bool Published = true);

    private static IEnumerable<Entry> Entries()
    {
        yield return new(new Dataset
        {
            Type = DatasetType.SourceDataset, Name = "UK trade in goods by country", Slug = "uk-trade-in-goods-by-country",
            ShortDescription = "Monthly value of UK imports and exports of goods with each trading partner since 2019.",
            Description = "Monthly **imports** and **exports** of goods by partner country, in pounds sterling, seasonally adjusted.\n\n- Source: HM Revenue & Customs overseas trade statistics\n- Updated monthly\n\nSee the [methodology](https://www.uktradeinfo.com/) for definitions.",
            Publisher = Department, Licence = "Open Government Licence v3.0", Retention = "Kept indefinitely", AccessType = AccessType.Open,
            Tables = [new SourceTable { Name = "Goods by country and month", Schema = "trade", Table = "goods_by_country" }],
        }, ["Trade", "Statistics"], "HM Revenue & Customs", 40);

        yield return new(new Dataset
        {
            Type = DatasetType.SourceDataset, Name = "Export wins", Slug = "export-wins",
            ShortDescription = "Export deals that the department's advisers helped UK businesses to win.",
            Description = "Each row is an export win confirmed by the customer: the market, the sector and the value band.",
            Publisher = Department, Licence = "Internal use only", Retention = "7 years", AccessType = AccessType.RequiresAuthentication,
            Tables = [new SourceTable { Name = "Export wins", Schema = "trade", Table = "export_wins" }],
        }, ["Exports", "Business support"], Department, 30);

        yield return new(new Dataset
        {
            Type = DatasetType.SourceDataset, Name = "Exporters register", Slug = "exporters-register",
            ShortDescription = "UK companies that export, with their sector, region and export markets.",
            Description = "Company-level data drawn from customs declarations. Contains commercially sensitive information.",
            Publisher = Department, Licence = "Internal use only", Retention = "5 years", AccessType = AccessType.RequiresAuthorization,
            Classification = SecurityClassification.OfficialSensitive, AuthorizedEmailDomains = ["trade.example"],
            EligibilityCriteria = ["I work on trade or investment policy", "I will not share company-level data outside the department"],
            Tables = [new SourceTable { Name = "Exporting companies", Schema = "companies", Table = "exporters" }],
        }, ["Exports", "Companies"], "HM Revenue & Customs", 25);

        yield return new(new Dataset
        {
            Type = DatasetType.SourceDataset, Name = "Foreign direct investment projects", Slug = "fdi-projects",
            ShortDescription = "Inward investment projects landed in the UK, with jobs created and investor country.",
            Description = "Project-level records of foreign direct investment, including planned jobs and capital expenditure.",
            Publisher = Department, Licence = "Internal use only", Retention = "10 years", AccessType = AccessType.RequiresAuthorization,
            Classification = SecurityClassification.OfficialSensitive,
            EligibilityCriteria = ["I work in an investment team", "I have completed data protection training this year"],
            Tables = [new SourceTable { Name = "Investment projects", Schema = "investment", Table = "projects" }],
        }, ["Investment"], Department, 20);

        yield return new(new Dataset
        {
            Type = DatasetType.ReferenceDataset, Name = "Countries and territories", Slug = "countries-and-territories",
            ShortDescription = "ISO 3166 codes, names and regions of the countries and territories the UK trades with.",
            Description = "The reference list used across the department's data. Edited by the data team.",
            Publisher = Department, Licence = "Open Government Licence v3.0", AccessType = AccessType.Open,
            Tables = [new SourceTable { Name = "Countries", Schema = "reference", Table = "countries" }],
        }, ["Reference data"], Department, 60);

        yield return new(new Dataset
        {
            Type = DatasetType.ReferenceDataset, Name = "Sectors", Slug = "sectors",
            ShortDescription = "The department's sector classification, mapped to SIC 2007 codes.",
            Publisher = Department, Licence = "Open Government Licence v3.0", AccessType = AccessType.Open,
            Tables = [new SourceTable { Name = "Sectors", Schema = "reference", Table = "sectors" }],
        }, ["Reference data", "Companies"], Department, 55);

        yield return new(new Dataset
        {
            Type = DatasetType.DataCut, Name = "Exporters by region", Slug = "exporters-by-region",
            ShortDescription = "Count of exporting companies in each UK region and sector.",
            Description = "An aggregate of the exporters register, safe to share within government.",
            Publisher = Department, Licence = "Open Government Licence v3.0", AccessType = AccessType.RequiresAuthorization,
            AuthorizedEmailDomains = ["trade.example", "partner.example"],
            Queries = [new CustomQuery { Name = "Exporters by region and sector", Query = "SELECT region, sector, count(*) AS exporters FROM companies.exporters GROUP BY region, sector ORDER BY region, sector" }],
        }, ["Exports", "Regions"], "HM Revenue & Customs", 10);

        yield return new(new Dataset
        {
            Type = DatasetType.DataCut, Name = "Top export markets", Slug = "top-export-markets",
            ShortDescription = "The twenty countries the UK exported most goods to since 2019.",
            Publisher = Department, Licence = "Open Government Licence v3.0", AccessType = AccessType.Open,
            Queries = [new CustomQuery { Name = "Top 20 markets", Query = "SELECT country_code, sum(exports_gbp) AS exports_gbp FROM trade.goods_by_country GROUP BY country_code ORDER BY 2 DESC LIMIT 20" }],
        }, ["Trade", "Exports"], "HM Revenue & Customs", 5);

        yield return new(new Dataset
        {
            Type = DatasetType.SourceDataset, Name = "Trade barriers", Slug = "trade-barriers",
            ShortDescription = "Barriers to trade reported by UK businesses, by market and status.",
            Publisher = Department, Licence = "Internal use only", AccessType = AccessType.RequiresAuthentication,
            Links = [new SourceLink { Name = "Barriers extract (CSV)", Url = "s3://dataworkspace-demo/barriers/barriers.csv", Format = "CSV" }],
        }, ["Trade policy", "Markets"], Department, 15);

        yield return new(new Dataset
        {
            Type = DatasetType.SourceDataset, Name = "Business survey responses", Slug = "business-survey-responses",
            ShortDescription = "Responses to the quarterly survey of exporting businesses.",
            Publisher = "Office for National Statistics", Licence = "Restricted", AccessType = AccessType.RequiresAuthorization,
            EligibilityCriteria = ["I am an accredited researcher"],
            Links = [new SourceLink { Name = "Responses 2026 Q3 (CSV)", Url = "s3://dataworkspace-demo/surveys/2026-q3.csv", Format = "CSV" }],
        }, ["Surveys", "Exports"], "Office for National Statistics", 3);

        yield return new(new Dataset
        {
            Type = DatasetType.Visualisation, Name = "Market access dashboard", Slug = "market-access-dashboard",
            ShortDescription = "Interactive view of open trade barriers by market, sector and estimated value.",
            Publisher = Department, AccessType = AccessType.Open,
            Links = [new SourceLink { Name = "Open the dashboard", Url = "http://market-access.dataworkspace.localhost:8000/", Format = "Web app" }],
        }, ["Trade policy", "Markets"], Department, 12);

        yield return new(new Dataset
        {
            Type = DatasetType.Visualisation, Name = "Free trade agreement utilisation", Slug = "fta-utilisation",
            ShortDescription = "How much of UK trade with partner countries uses preferential tariffs.",
            Publisher = Department, AccessType = AccessType.RequiresAuthorization, AuthorizedEmailDomains = ["trade.example"],
            Links = [new SourceLink { Name = "Open the dashboard", Url = "http://fta-utilisation.dataworkspace.localhost:8000/", Format = "Web app" }],
        }, ["Trade policy", "Trade"], "HM Revenue & Customs", 8);

        yield return new(new Dataset
        {
            Type = DatasetType.SourceDataset, Name = "Ports and freight traffic", Slug = "ports-and-freight",
            ShortDescription = "Freight tonnage through UK ports by port, direction and cargo type.",
            Publisher = "Department for Transport", Licence = "Open Government Licence v3.0", AccessType = AccessType.Open,
            Links = [new SourceLink { Name = "Port freight statistics", Url = "https://www.gov.uk/government/statistical-data-sets/port-and-domestic-waterborne-freight-statistics-port", Format = "Web page" }],
        }, ["Logistics", "Statistics"], "Department for Transport", 45);

        yield return new(new Dataset
        {
            Type = DatasetType.SourceDataset, Name = "Services trade (draft)", Slug = "services-trade-draft",
            ShortDescription = "Trade in services by partner country: not yet published.",
            Publisher = Department, AccessType = AccessType.Open,
        }, ["Trade"], "Office for National Statistics", 1, Published: false);
    }

    /// <summary>The demo's reference tables become editable reference data: their rows are copied into the catalogue once.</summary>
    private static async Task AdoptReferenceTablesAsync(CatalogueDbContext catalogue, string datasetsConnectionString, CancellationToken cancellationToken)
    {
        (string Slug, string Table, ReferenceData.ReferenceColumn[] Columns)[] tables =
        [
            ("countries-and-territories", "countries", [new("code", ReferenceData.ReferenceColumnType.Text, true), new("name", ReferenceData.ReferenceColumnType.Text, true), new("region", ReferenceData.ReferenceColumnType.Text, true)]),
            ("sectors", "sectors", [new("id", ReferenceData.ReferenceColumnType.Integer, true), new("name", ReferenceData.ReferenceColumnType.Text, true), new("sic_2007", ReferenceData.ReferenceColumnType.Text, true)]),
        ];
        await using var datasets = new NpgsqlConnection(datasetsConnectionString);
        await datasets.OpenAsync(cancellationToken);
        foreach (var (slug, name, columns) in tables)
        {
            var dataset = await catalogue.Datasets.FirstOrDefaultAsync(d => d.Slug == slug, cancellationToken);
            if (dataset is null || await catalogue.ReferenceTables.AnyAsync(t => t.DatasetId == dataset.Id, cancellationToken)) continue;
            var table = new ReferenceData.ReferenceTable { DatasetId = dataset.Id, TableName = name, Columns = [.. columns], UpdatedAt = DateTimeOffset.UtcNow };
            await using var command = new NpgsqlCommand($"SELECT {string.Join(", ", columns.Select(c => c.Name + "::text"))} FROM reference.{name} ORDER BY 1", datasets);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                table.Rows.Add(new ReferenceData.ReferenceRow { ReferenceTableId = table.Id, Position = table.Rows.Count, Values = [.. Enumerable.Range(0, columns.Length).Select(i => reader.IsDBNull(i) ? null : reader.GetString(i))] });
            catalogue.ReferenceTables.Add(table);
            await catalogue.SaveChangesAsync(cancellationToken);
        }
    }

    private const string TablesSql = """
        CREATE SCHEMA IF NOT EXISTS reference;
        CREATE SCHEMA IF NOT EXISTS trade;
        CREATE SCHEMA IF NOT EXISTS companies;
        CREATE SCHEMA IF NOT EXISTS investment;

        CREATE TABLE IF NOT EXISTS reference.countries (code text PRIMARY KEY, name text NOT NULL, region text NOT NULL);
        INSERT INTO reference.countries (code, name, region)
        SELECT * FROM (VALUES
          ('FR','France','Europe'),('DE','Germany','Europe'),('IE','Ireland','Europe'),('NL','Netherlands','Europe'),
          ('ES','Spain','Europe'),('IT','Italy','Europe'),('BE','Belgium','Europe'),('PL','Poland','Europe'),
          ('US','United States','North America'),('CA','Canada','North America'),('MX','Mexico','Latin America'),
          ('BR','Brazil','Latin America'),('CN','China','Asia Pacific'),('JP','Japan','Asia Pacific'),('IN','India','South Asia'),
          ('AU','Australia','Asia Pacific'),('NZ','New Zealand','Asia Pacific'),('SG','Singapore','Asia Pacific'),
          ('KR','South Korea','Asia Pacific'),('AE','United Arab Emirates','Middle East'),('SA','Saudi Arabia','Middle East'),
          ('ZA','South Africa','Africa'),('NG','Nigeria','Africa'),('KE','Kenya','Africa'),('CH','Switzerland','Europe'),
          ('NO','Norway','Europe'),('TR','Turkey','Europe'),('IL','Israel','Middle East'),('VN','Vietnam','Asia Pacific'),('TW','Taiwan','Asia Pacific')
        ) AS v(code, name, region)
        WHERE NOT EXISTS (SELECT 1 FROM reference.countries);

        CREATE TABLE IF NOT EXISTS reference.sectors (id int PRIMARY KEY, name text NOT NULL, sic_2007 text NOT NULL);
        INSERT INTO reference.sectors
        SELECT * FROM (VALUES
          (1,'Advanced engineering','28'),(2,'Aerospace','30.3'),(3,'Agriculture and food','01-10'),(4,'Automotive','29'),
          (5,'Chemicals','20'),(6,'Creative industries','59-60'),(7,'Defence and security','25.4'),(8,'Education','85'),
          (9,'Energy','35'),(10,'Financial services','64-66'),(11,'Healthcare and life sciences','21'),(12,'Technology','62-63')
        ) AS v(id, name, sic)
        WHERE NOT EXISTS (SELECT 1 FROM reference.sectors);

        CREATE TABLE IF NOT EXISTS trade.goods_by_country (
          month date NOT NULL, country_code text NOT NULL, imports_gbp bigint NOT NULL, exports_gbp bigint NOT NULL,
          PRIMARY KEY (month, country_code));
        INSERT INTO trade.goods_by_country
        SELECT m::date, c.code, (abs(hashtext(c.code || m::text)) % 900000000) + 50000000, (abs(hashtext(m::text || c.code)) % 700000000) + 30000000
        FROM generate_series('2019-01-01'::date, '2026-10-01'::date, interval '1 month') AS m CROSS JOIN reference.countries c
        WHERE NOT EXISTS (SELECT 1 FROM trade.goods_by_country);

        CREATE TABLE IF NOT EXISTS trade.export_wins (
          id int PRIMARY KEY, confirmed_on date NOT NULL, country_code text NOT NULL, sector text NOT NULL, value_band text NOT NULL);
        INSERT INTO trade.export_wins
        SELECT i, date '2024-01-01' + (i % 1000), (array(SELECT code FROM reference.countries ORDER BY code))[1 + i % 30],
               (array(SELECT name FROM reference.sectors ORDER BY id))[1 + i % 12],
               (array['Under £100k','£100k to £1m','£1m to £10m','Over £10m'])[1 + (i * 7) % 4]
        FROM generate_series(1, 4000) AS i
        WHERE NOT EXISTS (SELECT 1 FROM trade.export_wins);

        CREATE TABLE IF NOT EXISTS companies.exporters (
          company_number text PRIMARY KEY, name text NOT NULL, region text NOT NULL, sector text NOT NULL, markets int NOT NULL);
        INSERT INTO companies.exporters
        SELECT lpad(i::text, 8, '0'), 'Exporter ' || i || ' Ltd',
               (array['London','South East','North West','Scotland','Wales','West Midlands','Yorkshire','Northern Ireland'])[1 + i % 8],
               (array(SELECT name FROM reference.sectors ORDER BY id))[1 + (i * 3) % 12], 1 + i % 25
        FROM generate_series(1, 5000) AS i
        WHERE NOT EXISTS (SELECT 1 FROM companies.exporters);

        CREATE TABLE IF NOT EXISTS investment.projects (
          id int PRIMARY KEY, landed_on date NOT NULL, investor_country text NOT NULL, sector text NOT NULL, new_jobs int NOT NULL, capex_gbp bigint NOT NULL);
        INSERT INTO investment.projects
        SELECT i, date '2022-04-01' + (i % 1300), (array(SELECT code FROM reference.countries ORDER BY code))[1 + (i * 11) % 30],
               (array(SELECT name FROM reference.sectors ORDER BY id))[1 + i % 12], 5 + (i * 13) % 400, 100000 + (i * 7919) % 50000000
        FROM generate_series(1, 3000) AS i
        WHERE NOT EXISTS (SELECT 1 FROM investment.projects);
        """;
}
