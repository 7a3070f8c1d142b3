using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace MikroBILL.Tests
{
    /// <summary>Marks a test: a public parameterless method of a class with a parameterless constructor.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class TestAttribute : Attribute
    {
    }

    public sealed class AssertionException : Exception
    {
        public AssertionException(string message) : base(message)
        {
        }
    }

    public static class Assert
    {
        public static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
            {
                throw new AssertionException(what + ": expected <" + expected + "> but got <" + actual + ">");
            }
        }

        public static void True(bool condition, string what)
        {
            if (!condition) throw new AssertionException(what);
        }

        public static T Throws<T>(Action action, string what) where T : Exception
        {
            try
            {
                action();
            }
            catch (T e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new AssertionException(what + ": expected " + typeof(T).Name + " but got " + e.GetType().Name + ": " + e.Message);
            }
            throw new AssertionException(what + ": expected " + typeof(T).Name + " but nothing was thrown");
        }

        public static void Contains(string needle, string haystack, string what)
        {
            if (haystack == null || haystack.IndexOf(needle, StringComparison.Ordinal) < 0)
            {
                throw new AssertionException(what + ": <" + haystack + "> does not contain <" + needle + ">");
            }
        }
    }

    /// <summary>Runs every [Test] method, prints one line per test and the summary "N passed, M failed".</summary>
    public static class Harness
    {
        public static int Main(string[] args)
        {
            if (args.Length > 0 && args[0] == "--probe-load")
            {
                return LoaderTests.ProbeLoad();
            }
            string filter = args.Length > 0 ? args[0] : null;
            var tests = typeof(Harness).Assembly.GetTypes()
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static))
                .Where(m => m.GetCustomAttributes(typeof(TestAttribute), false).Length > 0)
                .Where(m => filter == null || (m.DeclaringType.Name + "." + m.Name).IndexOf(filter, StringComparison.Ordinal) >= 0)
                .OrderBy(m => m.DeclaringType.Name, StringComparer.Ordinal)
                .ThenBy(m => m.MetadataToken)
                .ToList();
            int passed = 0;
            int failed = 0;
            foreach (MethodInfo m in tests)
            {
                string name = m.DeclaringType.Name + "." + m.Name;
                try
                {
                    object target = m.IsStatic ? null : Activator.CreateInstance(m.DeclaringType);
                    try
                    {
                        m.Invoke(target, null);
                    }
                    finally
                    {
                        var d = target as IDisposable;
                        if (d != null) d.Dispose();
                    }
                    passed++;
                    Console.WriteLine("ok   " + name);
                }
                catch (Exception e)
                {
                    Exception inner = e is TargetInvocationException && e.InnerException != null ? e.InnerException : e;
                    failed++;
                    Console.WriteLine("FAIL " + name + ": " + inner.GetType().Name + ": " + inner.Message);
                    if (!(inner is AssertionException))
                    {
                        Console.WriteLine(inner.StackTrace);
                    }
                }
                Console.Out.Flush();
            }
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed > 0 || passed == 0 ? 1 : 0;
        }
    }
}
