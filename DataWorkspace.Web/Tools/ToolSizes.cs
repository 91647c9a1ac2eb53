namespace DataWorkspace.Web.Tools;

/// <summary>A tool's CPU and memory, as Fargate sizes them.</summary>
public sealed record ToolSize(string Name, double Vcpu, double MemoryGb)
{
    /// <summary>ECS's CPU units: 1024 per vCPU.</summary>
    public int CpuUnits => (int)(Vcpu * 1024);

    public int MemoryMb => (int)(MemoryGb * 1024);

    public string Label => $"{Name} ({Vcpu:0.##} vCPU, {MemoryGb:0.#} GB)";
}

/// <summary>The sizes users choose from, as the original Data Workspace offers them.</summary>
public static class ToolSizes
{
    public static readonly ToolSize Small = new("Small", 0.25, 0.5);
    public static readonly ToolSize Medium = new("Medium", 1, 8);
    public static readonly ToolSize Large = new("Large", 2, 16);
    public static readonly ToolSize ExtraLarge = new("XL", 4, 30);
    public static readonly ToolSize ExtraLarge2 = new("2XL", 8, 60);
    public static readonly ToolSize ExtraLarge3 = new("3XL", 16, 120);

    public static readonly ToolSize Default = Medium;
    public static readonly IReadOnlyList<ToolSize> All = [Small, Medium, Large, ExtraLarge, ExtraLarge2, ExtraLarge3];

    public static ToolSize? Find(string? name) => All.FirstOrDefault(size => string.Equals(size.Name, name, StringComparison.OrdinalIgnoreCase));
}
