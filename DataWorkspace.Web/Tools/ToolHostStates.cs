using DataWorkspace.Contracts;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tools;

/// <summary>The state of a tool host as the proxy asks for it: now, or at its next change.</summary>
public sealed class ToolHostStates(IServiceScopeFactory scopes, ToolInstanceRecords records)
{
    /// <summary>
    /// The host's active instance, else its last one (stopped, with why), else <see cref="ToolInstanceState.None"/>
    /// for a tool never started; null when no template has the host's basename.
    /// </summary>
    public async Task<ToolHostState?> StateAsync(string host, CancellationToken cancellationToken) =>
        await TemplateOfAsync(host, cancellationToken) is { } template ? await StateAsync(host, template, cancellationToken) : null;

    /// <summary>Returns as soon as the host's state differs from <paramref name="since"/> (a <see cref="ToolHostState.Version"/>), or after <paramref name="wait"/>.</summary>
    public async Task<ToolHostState?> WaitForChangeAsync(string host, string since, TimeSpan wait, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(wait);
        ToolHostState? state = null;
        try
        {
            // The template once; then only the instance, each time something may have changed.
            if (await TemplateOfAsync(host, timeout.Token) is not { } template) return null;
            while (true)
            {
                var changed = records.NextChangeAsync(host);
                state = await StateAsync(host, template, timeout.Token);
                if (state.Version != since) return state;
                // Changes made here wake the wait at once; those made by another replica are seen within a quarter second.
                await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(250), timeout.Token));
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return state;
        }
    }

    private async Task<ToolTemplate?> TemplateOfAsync(string host, CancellationToken cancellationToken)
    {
        if (ToolHostName.Parse(host).Name is not { } name) return null;
        await using var scope = scopes.CreateAsyncScope();
        // A user's tool at a tool's host, a visualisation at its own: never one kind at the other's address.
        return await scope.ServiceProvider.GetRequiredService<ToolTemplates>().ByBasenameAsync(name.Basename, cancellationToken) is { } template
            && (template.Kind == ToolKind.Visualisation) == name.IsVisualisation ? template : null;
    }

    private async Task<ToolHostState> StateAsync(string host, ToolTemplate template, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var instance = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ToolInstance>().AsNoTracking()
            .Where(i => i.Host == host).OrderBy(i => i.State == ToolInstanceState.Stopped).ThenByDescending(i => i.CreatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        return instance is null
            ? new ToolHostState(host, template.Name, ToolInstanceState.None, null, null, null, null, null, null, null, template.Ports)
            : new ToolHostState(host, template.Name, instance.State, instance.Id, instance.Address, instance.Stage, instance.Error,
                instance.StopReason, instance.StopCause, instance.CreatedAt, template.Ports);
    }
}
