using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    /// <summary>What these tests do to the simulator process itself, through Linux's signals and
    /// /proc: freeze it as a hung server looks, and count its sockets. Kept out of the shipped
    /// SimulatorDouble, which runs wherever the simulator does.</summary>
    public static class SimulatorControl
    {
        [DllImport("libc.so.6", SetLastError = true)]
        private static extern int kill(int pid, int sig);

        [DllImport("libc.so.6", SetLastError = true)]
        private static extern IntPtr readlink(string path, byte[] buffer, IntPtr size);

        /// <summary>Freezes the simulator (SIGSTOP): connections stay open, the kernel still accepts
        /// bytes, nothing answers. Always pair with <see cref="Resume"/>.</summary>
        public static void Suspend(this SimulatorDouble sim)
        {
            Signal(sim, 19, "SIGSTOP");
            // kill() returns before every thread has stopped; until they have, a request sent now may
            // still be answered. Wait for the kernel to report each thread stopped (state T).
            var clock = Stopwatch.StartNew();
            while (!AllThreadsStopped(sim.Pid))
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(20)) throw new InvalidOperationException("the simulator did not stop after SIGSTOP");
                Thread.Sleep(5);
            }
        }

        /// <summary>Lets a suspended simulator run again (SIGCONT).</summary>
        public static void Resume(this SimulatorDouble sim)
        {
            Signal(sim, 18, "SIGCONT");
        }

        private static void Signal(SimulatorDouble sim, int sig, string name)
        {
            // Only while the child is unreaped does its pid still name it.
            if (sim.HasExited) throw new InvalidOperationException("simulator already exited; " + sim.Status);
            if (kill(sim.Pid, sig) != 0) throw new InvalidOperationException(name + " to simulator " + sim.Pid + " failed, errno " + Marshal.GetLastWin32Error());
        }

        private static bool AllThreadsStopped(int pid)
        {
            foreach (string dir in Directory.GetDirectories("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/task"))
            {
                string stat;
                try
                {
                    stat = File.ReadAllText(Path.Combine(dir, "stat"));
                }
                catch (IOException)
                {
                    continue; // the thread ended meanwhile
                }
                // The state follows the parenthesised command name, which may contain spaces.
                string state = stat.Substring(stat.LastIndexOf(')') + 1).TrimStart().Split(' ')[0];
                if (state != "T" && state != "t") return false;
            }
            return true;
        }

        /// <summary>How many sockets the simulator holds open (its listeners included).</summary>
        public static int OpenSockets(this SimulatorDouble sim)
        {
            int count = 0;
            var buffer = new byte[4096];
            foreach (string fd in Directory.GetFileSystemEntries("/proc/" + sim.Pid.ToString(CultureInfo.InvariantCulture) + "/fd"))
            {
                // -1: the descriptor was closed between listing and reading; it no longer counts.
                long n = readlink(fd, buffer, new IntPtr(buffer.Length)).ToInt64();
                if (n > 0 && Encoding.ASCII.GetString(buffer, 0, (int)n).StartsWith("socket:", StringComparison.Ordinal)) count++;
            }
            return count;
        }

        /// <summary>
        /// Waits until the simulator holds exactly <paramref name="count"/> sockets. The simulator closes
        /// a connection only after it has read it to the end, so once the count has dropped back, every
        /// request the closed connections carried is in the trace: the deterministic point at which the
        /// absence of a request can be asserted. Fails after <paramref name="deadline"/>.
        /// </summary>
        public static void WaitForOpenSockets(this SimulatorDouble sim, int count, TimeSpan deadline)
        {
            var clock = Stopwatch.StartNew();
            int now;
            while ((now = sim.OpenSockets()) != count)
            {
                if (clock.Elapsed > deadline)
                {
                    throw new AssertionException("simulator still holds " + now + " sockets, not " + count + ", after "
                        + deadline.TotalSeconds + " s; " + sim.Status);
                }
                // Polls a condition that has no notification; the deadline bounds it.
                Thread.Sleep(10);
            }
        }
    }
}
