namespace DataWorkspace.Web.Storage;

/// <summary>One set of a tool's S3 credentials, and the session policy that narrows them.</summary>
public sealed record ToolAwsCredentials(string AccessKeyId, string SecretAccessKey, string SessionToken, DateTimeOffset Expiration, string RoleArn, string Policy);
