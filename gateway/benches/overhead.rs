//! What the gateway adds to a call: p50/p99 latency of one read through the gateway against the
//! library called directly, beside the floor (the direct call plus one HTTP exchange with a
//! trivial hyper server on loopback), measured in turns over several rounds in one run; then
//! requests/s with 64 connections. Prints figures and ratios; asserts nothing about them.
//!
//!     cargo build --release -p mikrobill-sim && cargo bench -p mikrobill-gateway --bench overhead

#[path = "../tests/support/mod.rs"]
mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1 as client_http1;
use hyper::server::conn::http1 as server_http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

const ROUNDS: usize = 5;
const CALLS_PER_ROUND: usize = 1000;
const CONNECTIONS: usize = 64;
const THROUGHPUT_FOR: Duration = Duration::from_secs(3);
const PATH: &str = "API.Client.633824158637492.BillingInfo.Money";

/// A kept-alive plain HTTP/1.1 connection.
struct Plain {
    sender: client_http1::SendRequest<Full<Bytes>>,
}

impl Plain {
    async fn connect(addr: SocketAddr) -> Plain {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (sender, conn) = client_http1::handshake(TokioIo::new(tcp)).await.unwrap();
        tokio::spawn(conn);
        Plain { sender }
    }

    async fn post(&mut self, token: &str, body: &'static str) -> (u16, Bytes) {
        let request = hyper::Request::post("/v1/process")
            .header("host", "localhost")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        self.sender.ready().await.unwrap();
        let response = self.sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    }
}

/// Set in the environment of the child process that serves the floor's trivial HTTP: a process
/// of its own, like the gateway, so that neither side of the comparison shares the client's
/// threads.
const TRIVIAL_SERVER_ENV: &str = "MIKROBILL_BENCH_TRIVIAL_SERVER";

/// The trivial server of the floor: answers every request with a fixed small JSON reply.
fn serve_trivial() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let _ = request.into_body().collect().await;
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            br#"{"return":"100.01","code":0}"#,
                        ))))
                    },
                );
                let _ = server_http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// Starts this program again as the trivial server; its address.
fn start_trivial() -> (std::process::Child, SocketAddr) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(TRIVIAL_SERVER_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    (child, addr)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    if std::env::var_os(TRIVIAL_SERVER_ENV).is_some() {
        serve_trivial();
        return;
    }
    let (mut trivial_child, trivial) = start_trivial();
    let dir = TempDir::new("bench");
    let sim = Sim::start(&dir);
    let token = TestToken::new("bench", &["*"], true).rate(1_000_000, 1_000_000);
    let setup = Setup {
        tls: false,
        core: vec!["connections = 8".into(), "queue = 1024".into()],
        ..Setup::default()
    };
    let gateway = Gateway::start(&dir, &sim, setup, &[&token]);
    let config = mikrobill::Config::new("127.0.0.1", sim.port, LOGIN, PASSWORD, KEY1, KEY2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let body: &'static str = Box::leak(format!(r#"{{"path":"{PATH}"}}"#).into_boxed_str());

    let mut direct_client = mikrobill::Client::new(config.clone()).unwrap();
    let expected = direct_client.process(PATH, None).unwrap();
    let (mut direct, mut floor, mut through) = (Vec::new(), Vec::new(), Vec::new());
    runtime.block_on(async {
        let mut trivial_conn = Plain::connect(trivial).await;
        let mut gateway_conn = Plain::connect(gateway.addr).await;
        let (status, reply) = gateway_conn.post(&token.secret, body).await;
        assert_eq!((status, reply.as_ref()), (200, expected.as_bytes()));
        for _ in 0..ROUNDS {
            for _ in 0..CALLS_PER_ROUND {
                let t = Instant::now();
                direct_client.process(PATH, None).unwrap();
                direct.push(t.elapsed());
            }
            for _ in 0..CALLS_PER_ROUND {
                let t = Instant::now();
                direct_client.process(PATH, None).unwrap();
                trivial_conn.post(&token.secret, body).await;
                floor.push(t.elapsed());
            }
            for _ in 0..CALLS_PER_ROUND {
                let t = Instant::now();
                let (status, _) = gateway_conn.post(&token.secret, body).await;
                assert_eq!(status, 200);
                through.push(t.elapsed());
            }
        }
    });
    println!(
        "latency of one call ({ROUNDS} rounds x {CALLS_PER_ROUND} calls each, in turns, loopback, plain HTTP):"
    );
    let mut p50 = Vec::new();
    for (name, samples) in [
        ("library called directly", &mut direct),
        ("floor: direct + trivial HTTP", &mut floor),
        ("through the gateway", &mut through),
    ] {
        samples.sort();
        let (a, b) = (percentile(samples, 0.5), percentile(samples, 0.99));
        p50.push(a);
        println!(
            "  {name:<30} p50 {:>8.1} us   p99 {:>8.1} us",
            micros(a),
            micros(b)
        );
    }
    println!(
        "  gateway p50 / floor p50 = {:.2}   (gateway p50 - direct p50 = {:.1} us added)",
        p50[2].as_secs_f64() / p50[1].as_secs_f64(),
        micros(p50[2].saturating_sub(p50[0]))
    );

    // Throughput: 64 kept-alive connections through the gateway, against 64 threads each with
    // its own library client.
    let through_rate = runtime.block_on(async {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..CONNECTIONS {
            let (done, stop, secret) = (Arc::clone(&done), Arc::clone(&stop), token.secret.clone());
            let addr = gateway.addr;
            tasks.push(tokio::spawn(async move {
                let mut conn = Plain::connect(addr).await;
                while !stop.load(Ordering::Relaxed) {
                    let (status, _) = conn.post(&secret, body).await;
                    assert_eq!(status, 200);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let started = Instant::now();
        tokio::time::sleep(THROUGHPUT_FOR).await;
        let n = done.load(Ordering::Relaxed);
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        n as f64 / took.as_secs_f64()
    });
    let direct_rate = {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let (done, stop, config) = (Arc::clone(&done), Arc::clone(&stop), config.clone());
                std::thread::spawn(move || {
                    let mut client = mikrobill::Client::new(config).unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        client.process(PATH, None).unwrap();
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let started = Instant::now();
        std::thread::sleep(THROUGHPUT_FOR);
        let n = done.load(Ordering::Relaxed);
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        n as f64 / took.as_secs_f64()
    };
    println!(
        "requests/s with {CONNECTIONS} connections ({} s each):",
        THROUGHPUT_FOR.as_secs()
    );
    println!("  through the gateway (8 core connections)  {through_rate:>10.0}");
    println!("  library directly ({CONNECTIONS} clients)           {direct_rate:>10.0}");
    println!(
        "  ratio gateway / direct = {:.2}",
        through_rate / direct_rate
    );
    let _ = trivial_child.kill();
    let _ = trivial_child.wait();
    println!(
        "machine: {} logical CPUs (figures on a shared machine vary from run to run)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
