using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.ApiTokens;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Demo;
using DataWorkspace.Web.Documentation;
using DataWorkspace.Web.Explorer;
using DataWorkspace.Web.Files;
using DataWorkspace.Web.Health;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.MachineApi;
using DataWorkspace.Web.Notifications;
using DataWorkspace.Web.Operations;
using DataWorkspace.Web.Pages;
using DataWorkspace.Web.Portal;
using DataWorkspace.Web.ReferenceData;
using DataWorkspace.Web.Security;
using DataWorkspace.Web.Storage;
using DataWorkspace.Web.Time;
using DataWorkspace.Web.Tools;
using DataWorkspace.Web.ToolsAccess;
using DataWorkspace.Web.Users;

if (args.Contains(DatabaseMigrator.Command)) return await DatabaseMigrator.RunAsync(args, args.Contains(DemoCatalogue.Option) ? DemoCatalogue.SeedAsync : null);

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

// Foundations, then the features layer by layer, lowest first (README, "Where things are").
builder.AddCatalogueDatabase();
builder.Services.AddClock(builder.Configuration).AddPortalLinks().AddApiDocuments().AddProblemDetails();
builder.AddRequestChecks();

builder.AddProxyIdentity();
builder.AddUsers();
builder.AddAudit();
builder.AddApiTokens();
builder.AddNotifications();

builder.AddCatalogue();

builder.AddAccessRequests();
builder.AddDatabaseAccess();
builder.AddToolsAccess();
builder.AddReferenceData();
builder.AddStorage();
builder.AddMachineApi();

builder.AddTools();
builder.AddExplorer();
builder.AddFiles();

builder.AddPortalPages();

var app = builder.Build();

app.UseStatusCodePagesWithReExecute("/error/{0}");
app.UseDatabaseBusyAnswers();
app.UsePublicStaticFiles();
app.UseAuthentication();
app.UseAuthorization();
app.UseApiTokenScopes();
app.UseRequestChecks();
app.UseUserDirectory();
app.UseWholePages();

app.MapDefaultEndpoints();
app.MapHealthcheck();
app.MapRazorPages();
app.MapUsers();
app.MapAudit();
app.MapApiTokens();
app.MapCatalogue();
app.MapAccessRequests();
app.MapDatabaseAccess();
app.MapMachineApi();
app.MapExplorer();
app.MapTools();
app.MapFiles();
app.MapOperations();
app.MapApiDocuments();

await app.RunAsync();
return 0;
