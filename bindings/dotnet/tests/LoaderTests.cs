using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Xml;

namespace MikroBILL.Tests
{
    public class LoaderTests
    {
        /// <summary>Child-process mode (--probe-load): the loader runs once per process, so its
        /// failure paths are exercised in a fresh mono with a different MIKROBILL_LIB.</summary>
        public static int ProbeLoad()
        {
            try
            {
                Console.WriteLine("LOADED " + MikroBILL_API.LibraryPath + " " + MikroBILL_API.LibraryVersion);
            }
            catch (Exception e)
            {
                Console.WriteLine(e.GetType().FullName + ": " + e.Message);
            }
            return 0;
        }

        private static string RunProbe(string libPath)
        {
            var psi = new ProcessStartInfo("mono", "\"" + typeof(LoaderTests).Assembly.Location + "\" --probe-load")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
            };
            psi.EnvironmentVariables["MIKROBILL_LIB"] = libPath;
            using (Process p = Process.Start(psi))
            {
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                Assert.Equal(0, p.ExitCode, "probe exit code; output: " + output);
                return output;
            }
        }

        [Test]
        public void LoadsTheConfiguredLibraryAndChecksItsVersion()
        {
            string lib = Environment.GetEnvironmentVariable("MIKROBILL_LIB");
            Assert.Equal(Path.GetFullPath(lib), MikroBILL_API.LibraryPath, "path of the loaded library");
            Assert.True(MikroBILL_API.LibraryVersion.StartsWith("0.2.", StringComparison.Ordinal), "version " + MikroBILL_API.LibraryVersion);
        }

        [Test]
        public void MissingLibraryNamesThePathTried()
        {
            string missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "libmikrobill.so");
            string output = RunProbe(missing);
            Assert.Contains("MikroBILL.MikroBILLLibraryException", output, "exception type");
            Assert.Contains(missing + ": no such file", output, "path tried");
            Assert.Contains("MIKROBILL_LIB", output, "hint");
        }

        [Test]
        public void ForeignLibraryIsRejectedWithDlerror()
        {
            // Any shared object that is not libmikrobill: the C library itself.
            string foreign = new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6" }
                .First(File.Exists);
            string output = RunProbe(foreign);
            Assert.Contains("MikroBILL.MikroBILLLibraryException", output, "exception type");
            Assert.Contains("symbol mb_connect not found", output, "reason");
            Assert.Contains("undefined symbol: mb_connect", output, "dlerror text");
        }

        [Test]
        public void NonLibraryFileGivesDlopenError()
        {
            string bogus = Path.Combine(Path.GetTempPath(), "mb-dotnet-bogus-" + Guid.NewGuid().ToString("N") + ".so");
            File.WriteAllText(bogus, new string('x', 4096)); // longer than an ELF header, so dlopen reads and rejects it
            try
            {
                string output = RunProbe(bogus);
                Assert.Contains(bogus + ": dlopen failed: ", output, "dlopen failure");
                Assert.Contains("invalid ELF header", output, "dlerror text");
            }
            finally
            {
                File.Delete(bogus);
            }
        }

        [Test]
        public void ProbeSucceedsWithTheRealLibrary()
        {
            string lib = Environment.GetEnvironmentVariable("MIKROBILL_LIB");
            Assert.Contains("LOADED " + Path.GetFullPath(lib) + " 0.2.", RunProbe(lib), "probe output");
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
    }
}
