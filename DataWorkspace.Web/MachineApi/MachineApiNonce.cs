using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.MachineApi;

/// <summary>A nonce a machine client has used; kept for twice the clock-skew window so a captured request cannot be replayed.</summary>
[CatalogueTables]
public sealed class MachineApiNonce
{
    public required string ClientId { get; set; }
    public required string Nonce { get; set; }
    public DateTimeOffset SeenAt { get; set; }

    public const string Table = "machine_api_nonces";

    public static void Configure(ModelBuilder model) => model.Entity<MachineApiNonce>(nonce =>
    {
        nonce.ToTable(Table);
        nonce.HasKey(n => new { n.ClientId, n.Nonce });
        nonce.Property(n => n.ClientId).HasMaxLength(128);
        nonce.Property(n => n.Nonce).HasMaxLength(128);
        nonce.HasIndex(n => n.SeenAt);
    });
}
