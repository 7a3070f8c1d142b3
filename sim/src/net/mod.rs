//! The TCP server: a polled accept loop (so a signal can stop it) and one thread per connection.
//! Each connection is admitted to a slot and given its auth deadline here (admission), then runs
//! its session (crate::session) on its own thread, owning its socket and timeouts.

pub mod admission;

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::config::Config;
use crate::double::TestDouble;
use crate::error::SimError;
use crate::options::Options;
use crate::os::{signal, socket};
use crate::session::trace::Trace;
use crate::session::Service;
use crate::state::Engine;
use admission::{Budget, Limits, Slots};
use mikrobill::protocol::crypto::Cipher;

/// Stack of a connection thread. Parsing, expanding and dropping a request value recurse once
/// per nesting level, and a request may nest phpjson::MAX_DEPTH + 1 levels; 8 MiB is far above
/// what that needs even in debug builds, and costs address space only until it is touched.
pub const CONNECTION_STACK: usize = 8 * 1024 * 1024;

/// How long the accept loop waits for a connection before it looks at the stop flag again.
const ACCEPT_POLL_MS: i32 = 200;

pub struct Server {
    service: Service,
    limits: Limits,
    slots: Arc<Slots>,
}

impl Server {
    pub fn new(
        engine: Engine,
        cipher: Cipher,
        config: Config,
        options: Options,
    ) -> Result<Server, SimError> {
        let trace = options
            .trace_requests
            .as_deref()
            .map(Trace::open)
            .transpose()?;
        Ok(Server {
            service: Service {
                engine,
                cipher,
                config,
                double: Arc::default(),
                trace,
                max_frame: options.max_frame,
                budget: Budget::new(options.max_buffered),
                reply_encoding: options.double.reply_encoding,
                idle_timeout: options.idle_timeout,
            },
            limits: Limits {
                max_frame: options.max_frame,
                idle_timeout: options.idle_timeout,
                auth_timeout: options.auth_timeout,
            },
            slots: Arc::new(Slots::new(max_connections(options.max_connections))),
        })
    }

    /// Stubs, faults, replay and the request journal (crate::double) for this server.
    pub fn with_double(mut self, double: Arc<TestDouble>) -> Server {
        self.service.double = double;
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.service.engine
    }

    /// Accepts until SIGINT/SIGTERM, then compacts the state and returns.
    pub fn run(self: Arc<Self>, listener: TcpListener) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        while !signal::stop_requested() {
            socket::wait_for_connection(&listener, ACCEPT_POLL_MS);
            loop {
                if let Some(wait) = self.slots.wait() {
                    // Newcomers stay in the listen queue, where their auth bytes can arrive.
                    thread::sleep(wait);
                    break;
                }
                match listener.accept() {
                    Ok((stream, _)) => self.spawn(stream),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => break,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning; peers retry.
                        eprintln!("mikrobill-sim: accept failed: {e}");
                        thread::sleep(Duration::from_millis(50));
                        break;
                    }
                }
            }
        }
        self.service.engine.shutdown();
        Ok(())
    }

    /// Gives the connection a slot and a thread of its own, or closes it when no slot is free.
    fn spawn(self: &Arc<Self>, stream: TcpStream) {
        let Some(ticket) = self.slots.admit(&stream) else {
            return;
        };
        let server = Arc::clone(self);
        let started = thread::Builder::new()
            .name("mikrobill-conn".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                match admission::read_auth_frame(&stream, &ticket, &server.limits) {
                    Some(first) => server.service.serve(stream, &first),
                    None => drop(stream),
                }
                // The slot is free only once the connection is closed.
                drop(ticket);
            });
        // A thread that did not start dropped its ticket, which freed the slot.
        if let Err(e) = started {
            eprintln!("mikrobill-sim: cannot start a connection thread: {e}");
        }
    }
}

/// `--max-connections`, or its default fitted to the descriptor limit (said on stderr when that
/// lowers it).
fn max_connections(given: Option<usize>) -> usize {
    given.unwrap_or_else(|| {
        let (n, note) = crate::os::descriptors::default_connections(
            crate::options::DEFAULT_MAX_CONNECTIONS,
            crate::os::descriptors::limit(),
        );
        if let Some(note) = note {
            eprintln!("mikrobill-sim: {note}");
        }
        n
    })
}
