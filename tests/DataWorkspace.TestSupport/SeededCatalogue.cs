namespace DataWorkspace.TestSupport;

/// <summary>Datasets the benches add beside the demo catalogue, made in one statement so seeding takes seconds.</summary>
public static class SeededCatalogue
{
    /// <summary>The words the datasets' names and descriptions are made of, so searches for them find something.</summary>
    public static readonly string[] Words = ["trade", "exports", "investment", "companies", "regional", "tariff", "services", "goods", "survey", "ports", "energy", "wins"];

    /// <summary>
    /// Published datasets with slugs <c>&lt;prefix&gt;-1..N</c>, of the given types in turn, the three access types in
    /// turn, 25 publishers, and one of 20 topics each (<c>"&lt;Prefix&gt; topic 1..20"</c>).
    /// </summary>
    public static Task SeedAsync(string catalogueConnectionString, int datasets, string prefix, IReadOnlyList<string> types) =>
        Sql.ScalarAsync<object>(catalogueConnectionString, $"""
            INSERT INTO tags (id, type, name) SELECT gen_random_uuid(), 'Topic', initcap('{prefix}') || ' topic ' || i FROM generate_series(1, 20) i ON CONFLICT DO NOTHING;
            WITH words(w) AS (SELECT unnest(ARRAY['{string.Join("','", Words)}']))
            INSERT INTO datasets (id, type, name, slug, short_description, description, publisher, licence, retention, classification,
              information_asset_owner, information_asset_manager, editors, access_type, authorized_email_domains, eligibility_criteria,
              published, published_at, created_at, updated_at)
            SELECT gen_random_uuid(),
              (ARRAY['{string.Join("','", types)}'])[1 + i % {types.Count}],
              initcap((SELECT w FROM words OFFSET i % 12 LIMIT 1)) || ' ' || (SELECT w FROM words OFFSET (i * 7) % 12 LIMIT 1) || ' dataset ' || i,
              '{prefix}-' || i,
              'Figures on ' || (SELECT w FROM words OFFSET (i * 5) % 12 LIMIT 1) || ' and ' || (SELECT w FROM words OFFSET (i * 3) % 12 LIMIT 1),
              repeat('A longer description of the data, its sources, caveats and methods. ', 8),
              'Publisher ' || (i % 25), 'Open Government Licence', '', 'Official', '', '', ARRAY[]::text[],
              (ARRAY['Open','RequiresAuthentication','RequiresAuthorization'])[1 + i % 3], ARRAY['trade.example'], ARRAY[]::text[],
              true, now() - (i || ' minutes')::interval, now(), now()
            FROM generate_series(1, {datasets}) i;
            INSERT INTO dataset_tags (datasets_id, tags_id)
            SELECT d.id, t.id FROM datasets d JOIN tags t ON t.name = initcap('{prefix}') || ' topic ' || (1 + abs(hashtext(d.slug)) % 20) WHERE d.slug LIKE '{prefix}-%';
            ANALYZE;
            """);
}
