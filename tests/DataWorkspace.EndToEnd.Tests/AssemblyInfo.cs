[assembly: AssemblyFixture(typeof(DataWorkspace.EndToEnd.Tests.PlatformFixture))]
