using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace MikroBILL
{
    /// <summary>
    /// Finds, dlopens and binds libmikrobill.so (mikrobill.dll on Windows, through LoadLibrary) once
    /// per process. Candidates, in order:
    /// $MIKROBILL_LIB (when set, the only candidate: an explicit choice must not silently fall back),
    /// the directory of this assembly, its runtimes/RID/native subfolder (an app built from the
    /// NuGet package; RID is linux-x64 or win-x64), the package's own runtimes folder
    /// (../../runtimes/RID/native when the assembly is loaded from the NuGet cache), the application
    /// base directory, and finally the bare name through the system search path (LD_LIBRARY_PATH,
    /// ld.so.cache, then the soname libmikrobill.so.0 of a runtime-only install; PATH on Windows).
    /// </summary>
    internal static class NativeLibraryLoader
    {
        // The path separator tells Windows apart on every runtime netstandard2.0 covers, Mono included.
        internal static readonly bool IsWindows = Path.DirectorySeparatorChar == '\\';
        internal static readonly string LibraryName = IsWindows ? "mikrobill.dll" : "libmikrobill.so";
        internal const string LinuxSoname = "libmikrobill.so.0";
        private static readonly string RuntimeId = IsWindows ? "win-x64" : "linux-x64";
        internal const string EnvironmentVariable = "MIKROBILL_LIB";
        internal const string RequiredVersionPrefix = "0.2.";

        private const int RTLD_NOW = 2;

        private static readonly object Gate = new object();
        private static NativeMethods _loaded;

        /// <summary>The bound library; loads it on first use. Failures are not cached, so a corrected
        /// environment works on the next attempt.</summary>
        internal static NativeMethods Get()
        {
            lock (Gate)
            {
                if (_loaded == null)
                {
                    _loaded = Load();
                }
                return _loaded;
            }
        }

        private static NativeMethods Load()
        {
            var failures = new StringBuilder();
            foreach (string candidate in Candidates())
            {
                bool isPath = candidate.IndexOf('/') >= 0 || candidate.IndexOf('\\') >= 0;
                if (isPath && !File.Exists(candidate))
                {
                    failures.Append("\n  ").Append(candidate).Append(": no such file");
                    continue;
                }
                IntPtr lib = Dl.Open(candidate);
                if (lib == IntPtr.Zero)
                {
                    failures.Append("\n  ").Append(candidate).Append(": dlopen failed: ").Append(Dl.LastError());
                    continue;
                }
                string problem;
                NativeMethods bound = Bind(lib, candidate, out problem);
                if (bound != null)
                {
                    return bound;
                }
                // Only drop our reference; an incompatible copy must not shadow a later good one.
                Dl.Close(lib);
                failures.Append("\n  ").Append(candidate).Append(": ").Append(problem);
            }
            throw new MikroBILLLibraryException(
                "Cannot load " + LibraryName + " version " + RequiredVersionPrefix + "x. Set " + EnvironmentVariable
                + " to its path, place it next to " + typeof(NativeLibraryLoader).Assembly.GetName().Name
                + ".dll, or install it on the library search path. Tried:" + failures);
        }

        private static IEnumerable<string> Candidates()
        {
            string env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrEmpty(env))
            {
                yield return Path.GetFullPath(env);
                yield break;
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            string asmLocation = typeof(NativeLibraryLoader).Assembly.Location;
            if (!string.IsNullOrEmpty(asmLocation))
            {
                string dir = Path.GetDirectoryName(Path.GetFullPath(asmLocation));
                foreach (string p in new[]
                {
                    Path.Combine(dir, LibraryName),
                    Path.Combine(dir, "runtimes", RuntimeId, "native", LibraryName),
                    Path.Combine(dir, "..", "..", "runtimes", RuntimeId, "native", LibraryName),
                })
                {
                    string full = Path.GetFullPath(p);
                    if (seen.Add(full)) yield return full;
                }
            }
            string baseDir = AppDomain.CurrentDomain.BaseDirectory;
            if (!string.IsNullOrEmpty(baseDir))
            {
                string full = Path.GetFullPath(Path.Combine(baseDir, LibraryName));
                if (seen.Add(full)) yield return full;
            }
            yield return LibraryName;
            if (!IsWindows) yield return LinuxSoname;
        }

        private static NativeMethods Bind(IntPtr lib, string path, out string problem)
        {
            var m = new NativeMethods();
            problem = null;
            m.Connect = Symbol<MbConnect>(lib, "mb_connect", ref problem);
            m.LastError = Symbol<MbLastError>(lib, "mb_last_error", ref problem);
            m.Process = Symbol<MbProcess>(lib, "mb_process", ref problem);
            m.CheckConnection = Symbol<MbHandleCall>(lib, "mb_check_connection", ref problem);
            m.Disconnect = Symbol<MbHandleCall>(lib, "mb_disconnect", ref problem);
            m.Close = Symbol<MbHandleCall>(lib, "mb_close", ref problem);
            m.Discard = Symbol<MbHandleCall>(lib, "mb_discard", ref problem);
            m.Free = Symbol<MbFree>(lib, "mb_free", ref problem);
            m.Version = Symbol<MbVersion>(lib, "mb_version", ref problem);
            m.PoolStats = Symbol<MbLastError>(lib, "mb_pool_stats", ref problem);
            m.PoolClear = Symbol<MbPoolClear>(lib, "mb_pool_clear", ref problem);
            m.ProcessWithToken = Symbol<MbProcessWithToken>(lib, "mb_process_with_token", ref problem);
            m.TokenNew = Symbol<MbTokenNew>(lib, "mb_token_new", ref problem);
            m.TokenCancel = Symbol<MbTokenCall>(lib, "mb_token_cancel", ref problem);
            m.TokenFree = Symbol<MbTokenCall>(lib, "mb_token_free", ref problem);
            if (problem != null)
            {
                return null;
            }
            string version = m.TakeString(m.Version());
            if (version == null || !version.StartsWith(RequiredVersionPrefix, StringComparison.Ordinal))
            {
                problem = "version " + (version ?? "(null)") + " is incompatible; this binding needs " + RequiredVersionPrefix + "x";
                return null;
            }
            m.LoadedPath = path;
            m.VersionText = version;
            return m;
        }

        private static T Symbol<T>(IntPtr lib, string name, ref string problem) where T : class
        {
            if (problem != null) return null;
            IntPtr fn = Dl.Symbol(lib, name);
            if (fn == IntPtr.Zero)
            {
                problem = "symbol " + name + " not found (" + Dl.LastError() + "); not a libmikrobill build";
                return null;
            }
            // The non-generic overload exists on every runtime this targets (the generic one is newer).
            return (T)(object)Marshal.GetDelegateForFunctionPointer(fn, typeof(T));
        }

        // dlopen & co. live in libdl.so.2 on older glibc and in libc.so.6 from glibc 2.34 on (where
        // libdl.so.2 remains only as a stub that may be absent in slim images); try both.
        private static class Dl
        {
            private static bool _useLibc;

            internal static IntPtr Open(string path)
            {
                if (IsWindows) return Kernel32.Open(path);
                if (!_useLibc)
                {
                    try
                    {
                        // Calling dlerror first binds its P/Invoke stub now: the runtime resolves stubs
                        // with dlopen/dlsym itself, which would otherwise clear the error we want to read.
                        LibDl.dlerror();
                        LibDl.dlsym(IntPtr.Zero, "mb_version");
                        LibDl.dlerror();
                        return LibDl.dlopen(path, RTLD_NOW);
                    }
                    catch (DllNotFoundException)
                    {
                        _useLibc = true;
                    }
                    catch (EntryPointNotFoundException)
                    {
                        _useLibc = true;
                    }
                }
                LibC.dlerror();
                LibC.dlsym(IntPtr.Zero, "mb_version");
                LibC.dlerror();
                return LibC.dlopen(path, RTLD_NOW);
            }

            internal static IntPtr Symbol(IntPtr lib, string name)
            {
                if (IsWindows) return Kernel32.Symbol(lib, name);
                return _useLibc ? LibC.dlsym(lib, name) : LibDl.dlsym(lib, name);
            }

            internal static void Close(IntPtr lib)
            {
                if (IsWindows) Kernel32.FreeLibrary(lib);
                else if (_useLibc) LibC.dlclose(lib);
                else LibDl.dlclose(lib);
            }

            internal static string LastError()
            {
                if (IsWindows) return "Windows error " + Kernel32.LastError;
                IntPtr text = _useLibc ? LibC.dlerror() : LibDl.dlerror();
                // dlerror's text is owned by libc and is not freed.
                return text == IntPtr.Zero ? "(no dlerror text)" : Utf8.FromNativeLenient(text);
            }
        }

        private static class LibDl
        {
            [DllImport("libdl.so.2", CharSet = CharSet.Ansi, BestFitMapping = false)]
            internal static extern IntPtr dlopen(string file, int mode);

            [DllImport("libdl.so.2", CharSet = CharSet.Ansi, BestFitMapping = false)]
            internal static extern IntPtr dlsym(IntPtr handle, string name);

            [DllImport("libdl.so.2")]
            internal static extern int dlclose(IntPtr handle);

            [DllImport("libdl.so.2")]
            internal static extern IntPtr dlerror();
        }

        private static class Kernel32
        {
            // The error of the last Open or Symbol, read at once: any later call may overwrite it.
            internal static int LastError;

            internal static IntPtr Open(string path)
            {
                IntPtr lib = LoadLibraryW(path);
                LastError = lib == IntPtr.Zero ? Marshal.GetLastWin32Error() : 0;
                return lib;
            }

            internal static IntPtr Symbol(IntPtr lib, string name)
            {
                IntPtr fn = GetProcAddress(lib, name);
                LastError = fn == IntPtr.Zero ? Marshal.GetLastWin32Error() : 0;
                return fn;
            }

            [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
            private static extern IntPtr LoadLibraryW(string file);

            // GetProcAddress has only an ANSI form: export names are bytes.
            [DllImport("kernel32.dll", CharSet = CharSet.Ansi, BestFitMapping = false, SetLastError = true)]
            private static extern IntPtr GetProcAddress(IntPtr module, string name);

            [DllImport("kernel32.dll")]
            [return: MarshalAs(UnmanagedType.Bool)]
            internal static extern bool FreeLibrary(IntPtr module);
        }

        private static class LibC
        {
            [DllImport("libc.so.6", CharSet = CharSet.Ansi, BestFitMapping = false)]
            internal static extern IntPtr dlopen(string file, int mode);

            [DllImport("libc.so.6", CharSet = CharSet.Ansi, BestFitMapping = false)]
            internal static extern IntPtr dlsym(IntPtr handle, string name);

            [DllImport("libc.so.6")]
            internal static extern int dlclose(IntPtr handle);

            [DllImport("libc.so.6")]
            internal static extern IntPtr dlerror();
        }
    }
}
