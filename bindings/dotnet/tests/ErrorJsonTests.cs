using System.Collections.Generic;
using System.Reflection;

namespace MikroBILL.Tests
{
    // The binding's own error JSON has the library's shape, so callers parse one format.
    public class ErrorJsonTests
    {
        private static string Build(long code, string text, string detail)
        {
            MethodInfo build = typeof(MikroBILL_API).Assembly.GetType("MikroBILL.ErrorJson")
                .GetMethod("Build", BindingFlags.Static | BindingFlags.NonPublic);
            return (string)build.Invoke(null, new object[] { code, text, detail });
        }

        [Test]
        public void ReturnResultCodeAndDetailWhenThereIsOne()
        {
            Assert.Equal("{\"return\":\"Internal error\",\"result\":\"Internal error\",\"code\":9008,\"detail\":\"a\\/b \\u0416\"}",
                Build(MikroBILLCode.Internal, "Internal error", "a/b Ж"), "with detail");
            Assert.Equal("{\"return\":\"x\",\"result\":\"x\",\"code\":9007}", Build(MikroBILLCode.ClosedHandle, "x", null), "without");
            var parsed = (Dictionary<string, object>)JsonReader.Parse(Build(9005, "q\"", ""));
            Assert.Equal(3, parsed.Count, "an empty detail is left out");
        }
    }
}
