using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Files.Pages;

/// <remarks>
/// The shell of "Your files": Files/files.ts (bundled into /dist/files.js) fills it from the files API, and the bytes
/// go between the browser and S3 through presigned URLs, never through the web app.
/// </remarks>
public sealed class FilesModel : PageModel
{
    public void OnGet()
    {
    }
}
