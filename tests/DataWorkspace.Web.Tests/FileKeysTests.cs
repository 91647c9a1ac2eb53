using System.Text;
using DataWorkspace.Web.Files;
using DataWorkspace.Web.Tools;

namespace DataWorkspace.Web.Tests;

/// <summary>The rules every key the files API takes must pass, before S3 is asked anything.</summary>
public sealed class FileKeysTests
{
    private static readonly IReadOnlyList<string> Roots = ["home/1a2b3c4d/", "teams/analysts/"];

    private static int StatusOf(string? key, KeyKind kind = KeyKind.File, bool rootAllowed = false)
    {
        try
        {
            FileKeys.Check(key, kind, Roots, rootAllowed);
            return 200;
        }
        catch (FilesRefusedException refused)
        {
            return refused.Status;
        }
    }

    [Theory]
    [InlineData("home/1a2b3c4d/notes.txt")]
    [InlineData("home/1a2b3c4d/reports/q1 final (2).csv")]
    [InlineData("teams/analysts/shared.csv")]
    [InlineData("home/1a2b3c4d/ünïcödé 日本語.txt")]
    [InlineData("home/1a2b3c4d/odd #?+&'%.csv")]
    [InlineData("home/1a2b3c4d/100% done.txt")]
    [InlineData("home/1a2b3c4d/.hidden")]
    [InlineData("home/1a2b3c4d/..hidden")]
    [InlineData("home/1a2b3c4d/ leading space.txt")]
    public void Ordinary_names_under_the_users_roots_are_taken(string key) => Assert.Equal(200, StatusOf(key));

    [Theory]
    [InlineData("home/1a2b3c4e/notes.txt")]
    [InlineData("home/1a2b3c4dX/notes.txt")]
    [InlineData("home/1a2b3c4/notes.txt")]
    [InlineData("HOME/1a2b3c4d/notes.txt")]
    [InlineData("teams/analysts2/notes.txt")]
    [InlineData("teams/analyst/notes.txt")]
    [InlineData("teams/other/notes.txt")]
    [InlineData("home/notes.txt")]
    [InlineData("teams/notes.txt")]
    [InlineData("notes.txt")]
    [InlineData("home/１a2b3c4d/notes.txt")]
    [InlineData("teams/аnalysts/notes.txt")]
    public void Keys_outside_the_users_roots_are_not_theirs(string key) => Assert.Equal(403, StatusOf(key));

    [Theory]
    [InlineData("home/")]
    [InlineData("teams/")]
    [InlineData("home/1a2b3c4e/")]
    [InlineData("home/1a2b3c4dX/")]
    [InlineData("teams/analysts2/")]
    public void Prefixes_outside_the_users_roots_are_not_theirs_even_to_list(string prefix) => Assert.Equal(403, StatusOf(prefix, KeyKind.Folder, rootAllowed: true));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("/home/1a2b3c4d/notes.txt")]
    [InlineData("home/1a2b3c4d/../1a2b3c4e/notes.txt")]
    [InlineData("home/1a2b3c4d/./notes.txt")]
    [InlineData("home/1a2b3c4d/..")]
    [InlineData("home/1a2b3c4d//notes.txt")]
    [InlineData("home\\1a2b3c4d\\notes.txt")]
    [InlineData("home/1a2b3c4d/a\\..\\..\\1a2b3c4e/notes.txt")]
    [InlineData("home/1a2b3c4d/%2e%2e/1a2b3c4e/notes.txt")]
    [InlineData("home/1a2b3c4d%2F..%2F1a2b3c4e/notes.txt")]
    [InlineData("home/1a2b3c4d/notes%20one.txt")]
    [InlineData("home/1a2b3c4d/tab\there.txt")]
    [InlineData("home/1a2b3c4d/new\nline.txt")]
    [InlineData("home/1a2b3c4d/nul\0.txt")]
    [InlineData("home/1a2b3c4d/del\u007f.txt")]
    [InlineData("home/1a2b3c4d/trailing space ")]
    [InlineData("home/1a2b3c4d/trailing dot.")]
    [InlineData("home/1a2b3c4d/folder /notes.txt")]
    [InlineData("home/1a2b3c4d/folder./notes.txt")]
    [InlineData("home/1a2b3c4d/folder/")]
    public void Malformed_keys_are_refused_whoever_they_would_belong_to(string? key) => Assert.Equal(400, StatusOf(key));

    [Fact]
    public void A_key_with_half_a_surrogate_pair_is_refused() => Assert.Equal(400, StatusOf("home/1a2b3c4d/broken" + '\ud800' + ".txt"));

    [Fact]
    public void Keys_and_names_over_s3s_lengths_are_refused_and_those_at_them_taken()
    {
        var name255 = new string('n', 251) + ".txt";
        Assert.Equal(200, StatusOf("home/1a2b3c4d/" + name255));
        Assert.Equal(400, StatusOf("home/1a2b3c4d/n" + name255));
        // Two-byte characters count twice: 128 of them are 256 bytes.
        Assert.Equal(400, StatusOf("home/1a2b3c4d/" + new string('é', 128)));

        var folders = string.Concat(Enumerable.Repeat(new string('f', 99) + "/", 10));
        var atLimit = "home/1a2b3c4d/" + folders + new string('x', 1024 - 14 - folders.Length);
        Assert.Equal(1024, Encoding.UTF8.GetByteCount(atLimit));
        Assert.Equal(200, StatusOf(atLimit));
        Assert.Equal(400, StatusOf(atLimit + "x"));
    }

    [Fact]
    public void A_decomposed_name_is_taken_as_it_comes_and_a_decomposed_lookalike_of_a_root_is_not_the_root()
    {
        // A tool may have written it so (NFD from a Mac): it stays reachable under its own key; the page writes new names in NFC.
        var decomposed = "home/1a2b3c4d/cafe\u0301.txt";
        Assert.Equal(decomposed, FileKeys.Check(decomposed, KeyKind.File, Roots));
        Assert.Equal("home/1a2b3c4d/caf\u00e9.txt", FileKeys.Check("home/1a2b3c4d/caf\u00e9.txt", KeyKind.File, Roots));
        Assert.Equal(403, StatusOf("home/1a2b3c4d\u0301/x.txt"));
        Assert.Equal(403, StatusOf("teams/analyste\u0301/x.txt"));
        Assert.Equal(403, StatusOf("teams/analysts\u0301/x.txt"));
    }

    [Fact]
    public void A_root_itself_is_listed_but_not_created_moved_or_deleted()
    {
        Assert.Equal(200, StatusOf("home/1a2b3c4d/", KeyKind.Folder, rootAllowed: true));
        Assert.Equal(400, StatusOf("home/1a2b3c4d/", KeyKind.Folder));
        Assert.Equal(400, StatusOf("home/1a2b3c4d", KeyKind.Folder, rootAllowed: true));
        Assert.Equal(200, StatusOf("teams/analysts/sub/", KeyKind.Folder));
    }

    [Fact]
    public void The_roots_are_the_home_folder_then_each_team_by_its_slug()
    {
        var roots = FileKeys.RootsOf(new ToolPrefixes("home/1a2b3c4d/", ["teams/analysts/", "teams/trade_data/"]));
        Assert.Equal(
            [new FileRoot("home/1a2b3c4d/", "Your home folder", "home"), new FileRoot("teams/analysts/", "analysts", "team"), new FileRoot("teams/trade_data/", "trade_data", "team")],
            roots);
    }

    [Theory]
    [InlineData("home/1a2b3c4d/q1.csv", "attachment; filename=\"q1.csv\"; filename*=UTF-8''q1.csv")]
    [InlineData("home/1a2b3c4d/a b's (1)*.csv", "attachment; filename=\"a b's (1)*.csv\"; filename*=UTF-8''a%20b%27s%20%281%29%2A.csv")]
    [InlineData("home/1a2b3c4d/café \"x\".txt", "attachment; filename=\"caf_ _x_.txt\"; filename*=UTF-8''caf%C3%A9%20%22x%22.txt")]
    public void A_download_is_an_attachment_under_the_files_own_name(string key, string disposition) => Assert.Equal(disposition, FileKeys.Attachment(key));

    [Theory]
    [InlineData(1L, 16L)]
    [InlineData(64L * 1024 * 1024 + 1, 16L)]
    [InlineData(160_000L * 1024 * 1024, 16L)]
    [InlineData(160_001L * 1024 * 1024, 17L)]
    [InlineData(5L * 1024 * 1024 * 1024 * 1024, 525L)]
    public void Parts_are_16_mib_or_as_large_as_10000_parts_need(long size, long partMiB)
    {
        var partSize = FilePartSizes.PartSize(size);
        Assert.Equal(partMiB * FilePartSizes.MiB, partSize);
        Assert.InRange(FilePartSizes.PartCount(size, partSize), 1, FilePartSizes.MaxParts);
    }
}
