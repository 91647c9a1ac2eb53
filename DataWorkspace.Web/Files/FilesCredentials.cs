using System.Security.Cryptography;
using System.Text;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Storage;
using DataWorkspace.Web.Users;

namespace DataWorkspace.Web.Files;

/// <summary>
/// The S3 credentials a user fetched for scripts and the page (<c>GET /api/v1/aws_credentials</c>) are admitted to the
/// local S3 gateway under one holder per user, so that deactivating the user ends them at once, not when they expire.
/// </summary>
public sealed class FilesCredentials(S3Gateway gateway) : IDeactivationStep
{
    public static Guid HolderOf(string userId) => new(SHA256.HashData(Encoding.UTF8.GetBytes("files:" + userId)).AsSpan(0, 16));

    public Task EndAsync(string userId, string userEmail, Actor actor, CancellationToken cancellationToken)
    {
        gateway.Revoke(HolderOf(userId));
        return Task.CompletedTask;
    }
}
