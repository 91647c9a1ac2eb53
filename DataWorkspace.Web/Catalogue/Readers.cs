using System.Security.Claims;
using DataWorkspace.Web.Identity;

namespace DataWorkspace.Web.Catalogue;

public static class Readers
{
    public static Reader AsReader(this ClaimsPrincipal user) => new(user.Id(), user.EmailOf());
}
