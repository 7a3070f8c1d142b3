using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Xml;

namespace MikroBILL.Tests
{
    /// <summary>
    /// How the runtime finds libmikrobill: the binding declares [DllImport("mikrobill")] and Mono
    /// resolves that name through a dllmap (MikroBILL.dll.config), the assembly's own directory or
    /// LD_LIBRARY_PATH; .NET through the package's runtimes/RID/native. run-tests.sh maps the name
    /// to $MIKROBILL_LIB. A library is loaded once per process, so each case runs in a fresh mono
    /// on a copy of the assemblies in a directory of its own.
    /// </summary>
    public class LoaderTests
    {
        /// <summary>Child-process mode (--probe-load).</summary>
        public static int ProbeLoad()
        {
            try
            {
                Console.WriteLine("LOADED " + MikroBILL_API.LibraryVersion + " from " + LoadedFile());
            }
            catch (Exception e)
            {
                Console.WriteLine(e.GetType().FullName + ": " + e.Message);
            }
            return 0;
        }

        /// <summary>The libmikrobill file mapped into this process, from /proc/self/maps.</summary>
        private static string LoadedFile()
        {
            return File.ReadAllLines("/proc/self/maps").Select(l => l.Split(new[] { ' ' }, 6).Last().Trim())
                .FirstOrDefault(f => Path.GetFileName(f).StartsWith("libmikrobill", StringComparison.Ordinal));
        }

        private static string RealLibrary
        {
            get { return Path.GetFullPath(Environment.GetEnvironmentVariable("MIKROBILL_LIB")); }
        }

        /// <summary>Runs the probe on copies of the assemblies in a new directory, prepared by
        /// <paramref name="prepare"/>; returns its output.</summary>
        private static string RunProbe(Action<string> prepare, string ldLibraryPath = "")
        {
            string dir = Path.Combine(Path.GetTempPath(), "mb-dotnet-probe-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                string bin = Path.GetDirectoryName(typeof(LoaderTests).Assembly.Location);
                foreach (string name in new[] { "MikroBILL.dll", "MikroBILL.Testing.dll", "MikroBILL.Tests.exe" })
                {
                    File.Copy(Path.Combine(bin, name), Path.Combine(dir, name));
                }
                prepare(dir);
                var psi = new ProcessStartInfo("mono", "\"" + Path.Combine(dir, "MikroBILL.Tests.exe") + "\" --probe-load")
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                };
                psi.EnvironmentVariables["LD_LIBRARY_PATH"] = ldLibraryPath;
                using (Process p = Process.Start(psi))
                {
                    string output = p.StandardOutput.ReadToEnd();
                    p.WaitForExit();
                    Assert.Equal(0, p.ExitCode, "probe exit code; output: " + output);
                    return output;
                }
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        private static Action<string> MapTo(string target)
        {
            return dir => File.WriteAllText(Path.Combine(dir, "MikroBILL.dll.config"),
                "<configuration><dllmap dll=\"mikrobill\" target=\"" + target + "\" os=\"linux\"/></configuration>\n");
        }

        [Test]
        public void LoadsTheMappedLibraryAndChecksItsVersion()
        {
            Assert.True(MikroBILL_API.LibraryVersion.StartsWith("0.3.", StringComparison.Ordinal), "version " + MikroBILL_API.LibraryVersion);
            Assert.Equal(RealLibrary, LoadedFile(), "the library run-tests.sh mapped is the one loaded");
            Assert.Equal("LOADED " + MikroBILL_API.LibraryVersion + " from " + RealLibrary + "\n", RunProbe(MapTo(RealLibrary)), "probe output");
        }

        [Test]
        public void WithoutAMapTheAssemblysDirectoryAndTheSearchPathServe()
        {
            string nextTo = RunProbe(dir => File.Copy(RealLibrary, Path.Combine(dir, "libmikrobill.so")));
            Assert.Contains("LOADED 0.3.", nextTo, "next to MikroBILL.dll");
            Assert.Contains("mb-dotnet-probe-", nextTo, "the copy next to the assembly was loaded");
            Assert.Contains("LOADED 0.3.", RunProbe(dir => { }, Path.GetDirectoryName(RealLibrary)), "on LD_LIBRARY_PATH");
            string none = RunProbe(dir => { });
            Assert.Contains("MikroBILL.MikroBILLLibraryException: cannot load libmikrobill (mikrobill", none, "nowhere to be found");
        }

        [Test]
        public void MissingLibraryNamesThePathTried()
        {
            string missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "libmikrobill.so");
            string output = RunProbe(MapTo(missing));
            Assert.Contains("MikroBILL.MikroBILLLibraryException", output, "exception type");
            Assert.Contains("cannot load libmikrobill (" + missing, output, "path tried");
            Assert.Contains("LD_LIBRARY_PATH", output, "hint");
        }

        [Test]
        public void ForeignLibraryIsRejected()
        {
            // Any shared object that is not libmikrobill: the C library itself.
            string foreign = new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6" }
                .First(File.Exists);
            string output = RunProbe(MapTo(foreign));
            Assert.Contains("MikroBILL.MikroBILLLibraryException", output, "exception type");
            Assert.Contains("the library found is not libmikrobill (mb_version", output, "the missing export is named");
        }

        [Test]
        public void NonLibraryFileGivesALoadError()
        {
            string bogus = Path.Combine(Path.GetTempPath(), "mb-dotnet-bogus-" + Guid.NewGuid().ToString("N") + ".so");
            File.WriteAllText(bogus, new string('x', 4096)); // longer than an ELF header, so dlopen reads and rejects it
            try
            {
                string output = RunProbe(MapTo(bogus));
                Assert.Contains("MikroBILL.MikroBILLLibraryException: cannot load libmikrobill (" + bogus, output, "load failure");
            }
            finally
            {
                File.Delete(bogus);
            }
        }

        [Test]
        public void CsprojIsWellFormedAndPacksTheNativeLibrary()
        {
            var doc = new XmlDocument();
            doc.Load(Path.Combine(TestEnv.BindingDir, "MikroBILL.csproj"));
            XmlElement project = doc.DocumentElement;
            Assert.Equal("Project", project.Name, "root element");
            Assert.Equal("Microsoft.NET.Sdk", project.GetAttribute("Sdk"), "SDK-style project");
            Assert.Equal("netstandard2.0", project.SelectSingleNode("PropertyGroup/TargetFramework").InnerText, "target framework");
            Assert.Equal(MikroBILL_API.LibraryVersion, project.SelectSingleNode("PropertyGroup/Version").InnerText, "package version");
            foreach (string property in new[] { "PackageId", "Authors", "Description", "PackageLicenseExpression", "PackageTags" })
            {
                XmlNode node = project.SelectSingleNode("PropertyGroup/" + property);
                Assert.True(node != null && node.InnerText.Trim().Length > 0, property + " is set");
            }
            XmlNodeList compile = project.SelectNodes("ItemGroup/Compile");
            Assert.Equal(1, compile.Count, "one Compile item");
            Assert.Equal("src/**/*.cs", ((XmlElement)compile[0]).GetAttribute("Include"), "sources only, not tests");
            Assert.Equal("false", project.SelectSingleNode("PropertyGroup/EnableDefaultCompileItems").InnerText,
                "default globbing off, so tests/*.cs stay out");
            XmlNodeList natives = project.SelectNodes("ItemGroup/None[@Pack='true']");
            Assert.Equal(2, natives.Count, "two packed None items: Linux and Windows");
            var linux = (XmlElement)natives[0];
            Assert.Equal("../../target/release/libmikrobill.so", linux.GetAttribute("Include"), "Linux native library item");
            Assert.Equal("runtimes/linux-x64/native/", linux.GetAttribute("PackagePath"), "Linux PackagePath");
            var windows = (XmlElement)natives[1];
            Assert.Equal("../../target/x86_64-pc-windows-gnu/release/mikrobill.dll", windows.GetAttribute("Include"), "Windows native library item");
            Assert.Equal("runtimes/win-x64/native/", windows.GetAttribute("PackagePath"), "Windows PackagePath");
            Assert.True(Directory.GetFiles(Path.Combine(TestEnv.BindingDir, "src"), "*.cs").Length > 0, "src has sources");
        }

        [Test]
        public void PackLaysOutTheNupkgTreeDeterministically()
        {
            string fakeDll = Path.Combine(Path.GetTempPath(), "mb-dotnet-fake-" + Guid.NewGuid().ToString("N") + ".dll");
            File.WriteAllText(fakeDll, "stands in for the Windows build\n");
            string[] outs = { fakeDll + ".out1", fakeDll + ".out2" };
            try
            {
                foreach (string outDir in outs)
                {
                    var psi = new ProcessStartInfo("bash", "\"" + Path.Combine(TestEnv.BindingDir, "pack.sh") + "\" \"" + outDir + "\" \""
                        + RealLibrary + "\" \"" + fakeDll + "\"") { UseShellExecute = false, RedirectStandardError = true };
                    using (Process p = Process.Start(psi))
                    {
                        string stderr = p.StandardError.ReadToEnd();
                        p.WaitForExit();
                        Assert.Equal(0, p.ExitCode, "pack.sh exit code; stderr: " + stderr);
                    }
                }
                string[] tree = Directory.GetFiles(outs[0], "*", SearchOption.AllDirectories)
                    .Select(f => f.Substring(outs[0].Length + 1)).OrderBy(f => f, StringComparer.Ordinal).ToArray();
                Assert.Equal("lib/netstandard2.0/MikroBILL.dll runtimes/linux-x64/native/libmikrobill.so runtimes/win-x64/native/mikrobill.dll",
                    string.Join(" ", tree), "the package tree");
                Assert.Equal(Digest(RealLibrary), Digest(Path.Combine(outs[0], tree[1])), "the Linux library as given");
                Assert.Equal(Digest(fakeDll), Digest(Path.Combine(outs[0], tree[2])), "the Windows library as given");
                foreach (string file in tree)
                {
                    Assert.Equal(Digest(Path.Combine(outs[0], file)), Digest(Path.Combine(outs[1], file)), file + " is the same on every build");
                }
                byte[] packed = File.ReadAllBytes(Path.Combine(outs[0], tree[0]));
                string text = System.Text.Encoding.ASCII.GetString(packed);
                Assert.True(text.StartsWith("MZ", StringComparison.Ordinal), "the packed assembly is a PE file");
                Assert.Contains("MikroBILL_API", text, "the packed assembly is the binding");
                Assert.Contains("mb_process", text, "the packed assembly binds the library");
            }
            finally
            {
                File.Delete(fakeDll);
                foreach (string outDir in outs)
                {
                    if (Directory.Exists(outDir)) Directory.Delete(outDir, true);
                }
            }
        }

        private static string Digest(string file)
        {
            using (var sha = SHA256.Create())
            using (var stream = File.OpenRead(file))
            {
                return BitConverter.ToString(sha.ComputeHash(stream));
            }
        }
    }
}
