using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Npgsql;

namespace DataWorkspace.Web.Security;

/// <summary>
/// Refuses, with 400 and the name of the value at fault, any query string value, route value or form field that is
/// not <see cref="StorableText"/>, before a feature sees it. Behind that, whatever input still reaches PostgreSQL and
/// is refused there (a character it cannot store, a value too long for its column or index), and any body the
/// endpoint could not bind, is answered 400 with the reason instead of 500.
/// </summary>
public sealed class InputCheck(ILogger<InputCheck> logger)
{
    /// <summary>The PostgreSQL errors a user's input causes: no such character, untranslatable, too long, over a limit (tsvector, index row).</summary>
    private static readonly string[] InputErrors =
        [PostgresErrorCodes.CharacterNotInRepertoire, PostgresErrorCodes.UntranslatableCharacter, PostgresErrorCodes.StringDataRightTruncation, PostgresErrorCodes.ProgramLimitExceeded];

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            // An error page re-executed for a refused request carries the same values: it is the refusal's answer.
            if (context.Features.Get<IStatusCodeReExecuteFeature>() is null && await ProblemAsync(context) is { } problem)
            {
                await Refusal.WriteAsync(context, StatusCodes.Status400BadRequest, "Check what you sent", problem);
                return;
            }

            await next(context);
        }
        catch (Exception exception) when (!context.Response.HasStarted && Explain(exception) is { } refused)
        {
            // A database refusal means a value got past the checks above: worth a warning, so the check can learn it.
            logger.Log(exception is BadHttpRequestException ? LogLevel.Information : LogLevel.Warning,
                exception, "Refused {Method} {Path}: {Detail}", context.Request.Method, context.Request.Path, refused.Detail);
            context.Response.Clear();
            await Refusal.WriteAsync(context, refused.Status, refused.Title, refused.Detail);
        }
    }

    private static async Task<string?> ProblemAsync(HttpContext context)
    {
        var request = context.Request;
        foreach (var (name, values) in request.Query)
        {
            if (StorableText.Problem(name, StorableText.AddressValueLength) is { } problem) return $"A query string parameter's name {problem}";
            foreach (var value in values)
                if (StorableText.Problem(value, StorableText.AddressValueLength) is { } valueProblem) return $"The query string parameter '{Shown(name)}' {valueProblem}";
        }

        foreach (var (name, value) in request.RouteValues)
            if (value is string text && StorableText.Problem(text, StorableText.AddressValueLength) is { } problem) return $"The address's '{name}' part {problem}";

        if (!request.HasFormContentType) return null;
        var longFields = context.GetEndpoint()?.Metadata.GetMetadata<LongTextAttribute>()?.Fields ?? [];
        var urlEncoded = MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);
        // Kept, so that a form the reader refuses whole (it will not decode %00) can be read again to name the field at fault.
        if (urlEncoded) request.EnableBuffering();
        IFormCollection form;
        try
        {
            // Routing has already applied the route's own form limits ([RequestFormLimits]); the page reads this same form.
            form = await request.ReadFormAsync(context.RequestAborted);
        }
        catch (InvalidDataException tooLarge) when (tooLarge.Message.Contains("limit", StringComparison.OrdinalIgnoreCase))
        {
            // Over the route's own form limits (a reference CSV over its size): the page says how large it may be. The
            // rest of the body is read and dropped first (up to the route's request limit), so the answer is not lost to
            // a reset connection on its way back through the proxy.
            try
            {
                await request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            }
            catch (BadHttpRequestException)
            {
            }
            throw new BadHttpRequestException($"The upload is larger than this page takes ({tooLarge.Message}). Send a smaller file.", StatusCodes.Status413PayloadTooLarge, tooLarge);
        }
        catch (InvalidDataException unreadable)
        {
            return (urlEncoded ? FormProblem(await ReadAgainAsync(request, context.RequestAborted), longFields) : null) ?? $"The form could not be read: {unreadable.Message}";
        }

        if (FormProblem(form, longFields) is { } formProblem) return formProblem;
        foreach (var file in form.Files)
            if (StorableText.Problem(file.FileName, StorableText.FieldLength) is { } fileProblem) return $"The name of the file uploaded as '{Shown(file.Name)}' {fileProblem}";
        return null;
    }

    private static string? FormProblem(IEnumerable<KeyValuePair<string, StringValues>> fields, IReadOnlyList<string> longFields)
    {
        foreach (var (name, values) in fields)
        {
            if (StorableText.Problem(name, StorableText.FieldLength) is { } problem) return $"A form field's name {problem}";
            var limit = longFields.Contains(name, StringComparer.OrdinalIgnoreCase) ? StorableText.LongTextLength : StorableText.FieldLength;
            foreach (var value in values)
                if (StorableText.Problem(value, limit) is { } valueProblem) return $"The form field '{Shown(name)}' {valueProblem}";
        }

        return null;
    }

    private static async Task<Dictionary<string, StringValues>> ReadAgainAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        request.Body.Position = 0;
        using var reader = new StreamReader(request.Body, Encoding.UTF8, leaveOpen: true);
        return QueryHelpers.ParseQuery(await reader.ReadToEndAsync(cancellationToken));
    }

    private sealed record Refused(int Status, string Title, string Detail);

    private static Refused? Explain(Exception exception)
    {
        for (var cause = exception; cause is not null; cause = cause.InnerException)
        {
            switch (cause)
            {
                case PostgresException database when InputErrors.Contains(database.SqlState):
                    return new(StatusCodes.Status400BadRequest, "Check what you sent",
                        $"Something you sent cannot be stored ({database.MessageText}). Check it for NUL or broken characters and very long values, and try again.");
                case BadHttpRequestException bad:
                    return new(bad.StatusCode, TitleOf(bad.StatusCode), bad.InnerException switch
                    {
                        UnstorableJsonText text => $"The JSON body's value at {text.Path} {text.Message}",
                        JsonException json => $"The JSON body could not be read: {json.Message}",
                        _ => bad.Message,
                    });
            }
        }

        return null;
    }

    private static string TitleOf(int status) => status switch
    {
        StatusCodes.Status413PayloadTooLarge => "The request is too large",
        StatusCodes.Status415UnsupportedMediaType => "Unsupported content type",
        _ => "Check what you sent",
    };

    /// <summary>A name as it can be shown back: no control characters, and not the whole of a very long one.</summary>
    private static string Shown(string name)
    {
        var shown = new string([.. name.Take(60).Select(c => char.IsControl(c) || char.IsSurrogate(c) ? '?' : c)]);
        return name.Length > 60 ? shown + "…" : shown;
    }
}
