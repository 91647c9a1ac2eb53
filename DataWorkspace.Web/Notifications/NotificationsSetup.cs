namespace DataWorkspace.Web.Notifications;

public static class NotificationsSetup
{
    /// <summary>The outbox and its dispatcher, sending by SMTP when <c>Email:Smtp:Host</c> is set and to the log otherwise.</summary>
    public static WebApplicationBuilder AddNotifications(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<Outbox>();
        builder.Services.AddOptions<EmailOptions>().Bind(builder.Configuration.GetSection(EmailOptions.Section)).ValidateDataAnnotations();
        if (builder.Configuration["Email:Smtp:Host"] is { Length: > 0 })
            builder.Services.AddSingleton<IEmailSender, SmtpEmailSender>();
        else
            builder.Services.AddSingleton<IEmailSender, LogEmailSender>();
        builder.Services.AddSingleton<OutboxDispatcher>();
        builder.Services.AddHostedService(services => services.GetRequiredService<OutboxDispatcher>());
        builder.Services.AddHostedService<OutboxBacklog>();
        return builder;
    }
}
