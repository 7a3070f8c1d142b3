using System;
using System.Threading;
using System.Threading.Tasks;

namespace MikroBILL
{
    // The Task face of MikroBILL_API. The library's calls block, so each runs on a thread-pool
    // thread; the awaiting caller's thread is never held. Asynchronous calls on one instance take
    // turns (the protocol has one request in flight per connection), so a cancellation always
    // concerns the caller's own request:
    //  - cancelled while waiting for its turn: the request is never sent;
    //  - cancelled once its turn has come: the call carries a cancel token of the library's own
    //    (mb_cancel_token_new), which reaches that call and no other. Cancelled before the native call
    //    starts, nothing is sent; while it runs, the library abandons it (code 9011; the
    //    connection is dropped, the request is never resent). Either way the task ends Canceled.
    // Synchronous calls from other threads on the same instance do not take these turns, but the
    // token never reaches them either.
    public sealed partial class MikroBILL_API
    {
        private readonly SemaphoreSlim _asyncTurn = new SemaphoreSlim(1, 1);

        /// <summary>Reads <paramref name="path"/> without blocking the caller; see <see cref="Process(string)"/>.</summary>
        /// <exception cref="OperationCanceledException">(in the task) <paramref name="cancellationToken"/> was cancelled.</exception>
        public Task<string> ProcessAsync(string path, CancellationToken cancellationToken = default(CancellationToken))
            => StartAsync(path, null, cancellationToken);

        /// <summary>Sends <paramref name="value"/> without blocking the caller; see
        /// <see cref="Process(string, object)"/>. A value that cannot be sent throws here, before any task.</summary>
        public Task<string> ProcessAsync(string path, object value, CancellationToken cancellationToken = default(CancellationToken))
            => StartAsync(path, Json.Write(value), cancellationToken);

        /// <summary>Sends <paramref name="valueJson"/> (JSON text; null reads) without blocking the caller;
        /// see <see cref="ProcessJson"/>.</summary>
        public Task<string> ProcessJsonAsync(string path, string valueJson,
            CancellationToken cancellationToken = default(CancellationToken))
            => StartAsync(path, valueJson, cancellationToken);

        private Task<string> StartAsync(string path, string valueJson, CancellationToken cancellationToken)
        {
            // Mistakes of the caller surface at the call, as in the synchronous methods.
            if (path == null) throw new ArgumentNullException("path");
            if (_disposed) throw new ObjectDisposedException(GetType().Name);
            return RunInTurnAsync(path, valueJson, cancellationToken);
        }

        private async Task<string> RunInTurnAsync(string path, string valueJson, CancellationToken cancellationToken)
        {
            await _asyncTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
            Task<string> call = Task.Run(() => CallCancellable(path, valueJson, cancellationToken));
            // The next call's turn comes when the native call has returned, even if nobody waits for it.
            WhenDone(call, t => _asyncTurn.Release());
            // An OperationCanceledException from the call ends this task Canceled.
            return await call.ConfigureAwait(false);
        }

        // A continuation nobody awaits (a helper, since an async method may not leave a task unawaited).
        private static void WhenDone(Task<string> task, Action<Task<string>> then) => task.ContinueWith(then, TaskScheduler.Default);

        // Runs on a pool thread while this caller holds the turn.
        private string CallCancellable(string path, string valueJson, CancellationToken cancellationToken)
        {
            // Cancelled before the call starts: nothing to abandon, and nothing is sent.
            cancellationToken.ThrowIfCancellationRequested();
            if (!cancellationToken.CanBeCanceled) return ReplyText(Call(path, valueJson, null));
            using (var token = new CancelToken())
            // A cancel that comes between the check above and here runs the callback at once: the
            // token is then cancelled before the native call starts, which sends nothing. Disposing
            // the registration waits for a callback in progress, so the token is freed after it.
            using (cancellationToken.Register(token.Cancel))
            {
                return ReplyText(Call(path, valueJson, token));
            }
        }
    }
}
