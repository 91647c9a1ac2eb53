namespace DataWorkspace.Web.Catalogue;

/// <summary>Where a dataset's tables and data cuts download from: database access serves them, with the reader's own login.</summary>
public static class DownloadLinks
{
    public static string TablePath(string slug, SourceTable table) => $"/datasets/{Uri.EscapeDataString(slug)}/tables/{Uri.EscapeDataString(table.Table)}/download";

    public static string DataCutPath(string slug, CustomQuery query) => $"/datasets/{Uri.EscapeDataString(slug)}/cuts/{query.Id:N}/download";
}
