using Amazon.Runtime;
using Amazon.Runtime.Credentials;

namespace DataWorkspace.Web.Storage;

/// <summary>
/// The web app's own AWS credentials, found by the SDK's default chain (environment, profile, web identity, ECS task
/// role, EC2 instance profile) each time a request is signed, not once when a client is built: a web app without any
/// still starts, answers each AWS call with <see cref="NoAwsCredentialsException"/>, and works as soon as they are
/// there. The chain keeps what it found, so a lookup costs nothing once it has succeeded.
/// </summary>
public sealed class PlatformAwsCredentials : AWSCredentials
{
    public static PlatformAwsCredentials Instance { get; } = new();

    private PlatformAwsCredentials()
    {
    }

    public override ImmutableCredentials GetCredentials() => Found().GetCredentials();

    public override Task<ImmutableCredentials> GetCredentialsAsync() => Found().GetCredentialsAsync();

    private static AWSCredentials Found()
    {
        try
        {
            return DefaultAWSCredentialsIdentityResolver.GetCredentials();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            throw new NoAwsCredentialsException(exception);
        }
    }
}

/// <summary>The web app found no AWS credentials of its own: what to set is in the message, the SDK's search in the inner exception.</summary>
public sealed class NoAwsCredentialsException(Exception search) : AmazonClientException(Advice, search)
{
    public const string Advice = "The web app has no AWS credentials, so it cannot reach S3 or STS. Give it some: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
        + "(or AWS_PROFILE) in its environment, or an IAM role (the ECS task role when deployed). A role or a profile file is picked up at the next request.";

    /// <summary>This exception where the SDK may have wrapped it in one of its own, or null.</summary>
    public static NoAwsCredentialsException? In(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
            if (exception is NoAwsCredentialsException missing) return missing;
        return null;
    }
}
