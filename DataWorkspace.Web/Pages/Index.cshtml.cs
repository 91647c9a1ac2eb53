using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Pages;

public sealed class IndexModel : PageModel
{
    public string Name => User.DisplayName();
    public string Email => User.EmailOf();
    public bool IsAdmin => User.IsAdmin();
}
