//! The simulator's own bounds: connection slots under exhaustion, the memory budget for request
//! frames (peak memory checked), and what its trace and state files reveal.

use mikrobill_testkit::sim::*;
use std::io::Read;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[test]
fn honest_clients_are_served_while_every_slot_is_held_by_peers_that_never_authenticate() {
    let sim = Sim::start(&["--max-connections", "20", "--auth-timeout", "60"]);
    let stop = Arc::new(AtomicBool::new(false));
    // Twenty peers hold every slot and connect again as soon as they lose one.
    let squatters: Vec<_> = (0..20)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let port = sim.port;
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                        continue;
                    };
                    s.set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                    let mut buf = [0u8; 1];
                    while !stop.load(Ordering::SeqCst) {
                        match s.read(&mut buf) {
                            Ok(0) => break,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            _ => break,
                        }
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    let mut failures = Vec::new();
    for _ in 0..100 {
        let mut client = sim.client();
        match client.process("API.GetClients", None) {
            Ok(reply) if code(&reply) == 0 => {}
            Ok(reply) => failures.push(reply),
            Err(e) => failures.push(e.to_json()),
        }
    }
    stop.store(true, Ordering::SeqCst);
    for s in squatters {
        s.join().unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of 100 failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}

#[test]
fn when_every_slot_is_authenticated_a_new_connection_is_closed() {
    let sim = Sim::start(&["--max-connections", "3"]);
    let held: Vec<Conn> = (0..3).map(|_| sim.conn()).collect();
    let mut extra = Conn::new(sim.tcp());
    assert!(extra.closed_without_reply());
    // The client names what happened instead of blaming the keys alone.
    let e = sim.client().process("API.GetClients", None).unwrap_err();
    assert_eq!(e.code(), 6);
    assert!(
        e.to_json()
            .contains("the server closed the connection without answering the auth (keys wrong, or the server refused the connection)"),
        "{}",
        e.to_json()
    );
    drop(held);
}

#[test]
fn request_frames_share_one_memory_budget_and_the_peer_over_it_gets_209() {
    const FRAME: usize = 60 << 20;
    const BUDGET: usize = 100 << 20;
    let sim = Sim::start(&[
        "--max-buffered-bytes",
        &BUDGET.to_string(),
        "--idle-timeout",
        "60",
    ]);
    let baseline = peak_rss(sim.child.id());
    let mut peers: Vec<Conn> = (0..6).map(|_| sim.conn()).collect();
    for peer in &mut peers {
        write_raw(&mut peer.stream, &(FRAME as u32).to_le_bytes());
    }
    thread::sleep(Duration::from_millis(300));
    // Exactly one 60 MiB frame fits in 100 MiB; the other five are answered at once and closed.
    let refused = AtomicUsize::new(0);
    let mut admitted = Vec::new();
    for mut peer in peers {
        peer.stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match peer.recv() {
            Some(reply) => {
                assert_eq!(code(&reply), 209, "{reply}");
                assert!(reply.contains("--max-buffered-bytes"), "{reply}");
                refused.fetch_add(1, Ordering::SeqCst);
            }
            None => admitted.push(peer),
        }
    }
    assert_eq!(refused.load(Ordering::SeqCst), 5);
    assert_eq!(admitted.len(), 1);
    let mut peer = admitted.pop().unwrap();
    peer.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write_raw(&mut peer.stream, &vec![0x5a; FRAME]);
    let reply = peer.recv().expect("the admitted frame is answered");
    assert_ne!(code(&reply), 0, "{reply}");
    let peak = peak_rss(sim.child.id());
    assert!(
        peak < baseline + BUDGET,
        "peak {} MiB over baseline {} MiB + the {} MiB budget",
        peak >> 20,
        baseline >> 20,
        BUDGET >> 20
    );
    // The budget is released with the frame: a new large frame is admitted again.
    let mut next = sim.conn();
    write_raw(&mut next.stream, &(FRAME as u32).to_le_bytes());
    next.stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(
        next.recv().is_none(),
        "admitted, so no reply before its body"
    );
    still_serving(&sim);
}

fn still_serving(sim: &Sim) {
    let mut c = sim.client();
    assert_eq!(code(&call(&mut c, "API.GetClients", None)), 0);
}

#[test]
fn trace_and_state_files_are_private_and_the_trace_never_shows_an_account_password() {
    let dir = std::env::temp_dir().join(format!("mb-sim-private-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.txt");
    let state = dir.join("state.json");
    // An existing trace with a wide mode is narrowed too.
    std::fs::write(&trace, "").unwrap();
    std::fs::set_permissions(&trace, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sim = Sim::start(&[
        "--trace-requests",
        trace.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    let mut c = sim.client();
    let accounts = format!("API.Client.{IVANOV}.AutorizeInfo.Accounts");
    for (path, value) in [
        (
            format!("{accounts}.{IVANOV_ACC}.Password"),
            r#""Tr4ce-Secret-1""#.to_string(),
        ),
        (
            format!("{accounts}.AddAccount"),
            r#"["10.9.8.7","","newlogin","Tr4ce-Secret-2"]"#.to_string(),
        ),
        (
            format!("API.Client.{IVANOV}"),
            format!(
                r#"{{"AutorizeInfo":{{"Accounts":{{"{IVANOV_ACC}":{{"Password":"Tr4ce-Secret-3"}}}}}}}}"#
            ),
        ),
    ] {
        let reply = call(&mut c, &path, Some(&value));
        assert!(!reply.contains("\"code\":2"), "{reply}");
    }
    c.disconnect();
    let traced = std::fs::read_to_string(&trace).unwrap();
    assert!(!traced.contains("Tr4ce-Secret"), "{traced}");
    assert_eq!(traced.matches("[redacted]").count(), 3, "{traced}");
    assert!(traced.contains("newlogin"), "the rest is traced: {traced}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&trace), 0o600);
    let log = dir.join("state.json.wal");
    assert_eq!(mode(&log), 0o600);
    sim.signal(libc::SIGTERM);
    thread::sleep(Duration::from_millis(500));
    assert_eq!(mode(&state), 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The simulator with its descriptor limit (`ulimit -n`) set to `n`.
fn launch_with_descriptor_limit(n: u64) -> mikrobill_testkit::sim::Launch {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(Sim::binary());
    // SAFETY: setrlimit is async-signal-safe and touches only the child about to exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Sim::launch_command(command)
}

/// This test process may hold more sockets than a default soft limit allows.
fn raise_own_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid rlimit pointers; changes only this process's own soft limit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max.min(65536);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    assert!(limit.rlim_cur >= 4096, "the test needs 4096 descriptors");
}

/// Twenty honest clients, one after another: every call must succeed.
fn honest_calls_succeed(sim: &Sim, what: &str) {
    for n in 0..20 {
        let mut client = sim.client();
        let reply = client
            .process("API.GetClients", None)
            .unwrap_or_else(|e| panic!("{what}: honest client {n}: {}", e.to_json()));
        assert_eq!(code(&reply), 0, "{what}: honest client {n}: {reply}");
    }
}

#[test]
fn under_ulimit_n_1024_idle_peers_do_not_keep_honest_clients_out() {
    raise_own_descriptor_limit();
    // No --max-connections: the default must fit 1024 descriptors.
    let sim = launch_with_descriptor_limit(1024).start();
    let idle: Vec<TcpStream> = (0..600)
        .map(|_| TcpStream::connect(("127.0.0.1", sim.port)).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(500));
    honest_calls_succeed(&sim, "beside 600 peers that never authenticate");
    drop(idle);
}

#[test]
fn under_ulimit_n_1024_half_sent_control_requests_cost_the_api_nothing() {
    use std::io::Write;
    raise_own_descriptor_limit();
    let sim = launch_with_descriptor_limit(1024)
        .admin("127.0.0.1:0")
        .start();
    let admin = sim.admin.clone().unwrap();
    // A body that never completes is answered 408 once its deadline passes.
    let mut slow_body = TcpStream::connect(&admin).unwrap();
    write!(
        slow_body,
        "POST /api/stubs HTTP/1.1\r\nHost: {admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"path\""
    )
    .unwrap();
    // 1,100 requests whose header never ends.
    let half_sent: Vec<TcpStream> = (0..1100)
        .map(|_| {
            let mut s = TcpStream::connect(&admin).unwrap();
            let _ = s.write_all(b"GET /api/counts HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            s
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    honest_calls_succeed(&sim, "beside 1,100 half-sent control requests");
    slow_body
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = String::new();
    let _ = slow_body.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Once their header deadline has passed, the control API answers again.
    let started = std::time::Instant::now();
    loop {
        let mut s = TcpStream::connect(&admin).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = write!(s, "GET /api/counts HTTP/1.0\r\nHost: {admin}\r\n\r\n");
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        if reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the control API did not answer again: {reply:?}"
        );
        thread::sleep(Duration::from_millis(200));
    }
    drop(half_sent);
}

/// A request whose value is `count` copies of `item` in a list (`[item,item,...]`).
fn listed(item: &str, count: usize) -> String {
    let mut text = String::with_capacity(count * (item.len() + 1) + 64);
    text.push_str(r#"{"path":"API.Client.633824158637492","value":["#);
    for i in 0..count {
        if i > 0 {
            text.push(',');
        }
        text.push_str(item);
    }
    text.push_str("]}");
    text
}

/// The shapes that cost most memory per byte of request once parsed.
fn costly_shapes(bytes: usize) -> Vec<(&'static str, String)> {
    vec![
        ("[{},{},...]", listed("{}", bytes / 3)),
        ("[[],[],...]", listed("[]", bytes / 3)),
        ("[0,0,...]", listed("0", bytes / 2)),
        (r#"[{"a":0},...]"#, listed(r#"{"a":0}"#, bytes / 8)),
    ]
}

#[test]
#[ignore = "calibration: prints the peak memory per value of each costly shape"]
fn calibrate_the_cost_per_value() {
    for (name, request) in costly_shapes(30 << 20) {
        let sim = Sim::start(&["--max-buffered-bytes", "64GiB", "--idle-timeout", "120"]);
        let baseline = peak_rss(sim.child.id());
        let mut c = sim.conn();
        c.send(&request);
        let reply = c.recv().expect("a reply");
        let values = mikrobill_sim::session::cost::values(request.as_bytes());
        let peak = peak_rss(sim.child.id());
        println!(
            "{name}: {} MiB request, {values} values, peak +{} MiB = {} bytes per value (reply {} bytes)",
            request.len() >> 20,
            (peak - baseline) >> 20,
            (peak - baseline) / values,
            reply.len()
        );
    }
}

#[test]
fn what_requests_cost_once_parsed_is_counted_in_the_budget() {
    const BUDGET: usize = 100 << 20;
    let sim = Sim::start(&[
        "--max-buffered-bytes",
        &BUDGET.to_string(),
        "--idle-timeout",
        "120",
    ]);
    let baseline = peak_rss(sim.child.id());
    for (name, request) in costly_shapes(60 << 20) {
        // Four peers at once, each with a 60 MB request of the shape (one frame, encrypted once).
        let frame = Arc::new(cipher().encrypt(request.as_bytes()));
        let peers: Vec<_> = (0..4)
            .map(|_| {
                let mut c = sim.conn();
                let frame = Arc::clone(&frame);
                thread::spawn(move || {
                    c.stream
                        .set_read_timeout(Some(Duration::from_secs(60)))
                        .unwrap();
                    // Written by hand: a peer refused before its body is closed, so the write
                    // may fail; the 209 is read all the same.
                    let _ = mikrobill::protocol::frame::write_frame(&mut c.stream, &frame);
                    c.recv()
                })
            })
            .collect();
        // Each gets 209: for its frame when other frames hold the budget (not read, closed), or
        // for what its request would cost parsed (read, not evaluated).
        let mut for_parsing = 0;
        for peer in peers {
            let reply = peer.join().unwrap().expect("a reply");
            assert_eq!(code(&reply), 209, "{name}: {reply}");
            assert!(reply.contains("--max-buffered-bytes"), "{reply}");
            for_parsing += usize::from(reply.contains("parsed it would take about"));
        }
        assert!(for_parsing >= 1, "{name}: no frame was read");
        let peak = peak_rss(sim.child.id());
        println!(
            "{name}: 4 x {} MiB, peak {} MiB over a baseline of {} MiB (budget {} MiB)",
            request.len() >> 20,
            (peak - baseline) >> 20,
            baseline >> 20,
            BUDGET >> 20
        );
        assert!(
            peak < baseline + BUDGET,
            "{name}: peak {} MiB over baseline {} MiB + the {} MiB budget",
            peak >> 20,
            baseline >> 20,
            BUDGET >> 20
        );
    }
    // A request of the same shapes that fits is evaluated as before, and the connection that got
    // 209 for its size goes on.
    let mut c = sim.conn();
    let fits = listed("{}", 100_000);
    c.send(&fits);
    let reply = c.recv().expect("a reply");
    assert!(
        !reply.contains("parsed it would take"),
        "{}",
        &reply[..reply.len().min(300)]
    );
    let big = listed("{}", 1_000_000);
    c.send(&big);
    assert_eq!(code(&c.recv().expect("a reply")), 209);
    c.send(r#"{"path":"API.GetClients","value":null}"#);
    assert_eq!(code(&c.recv().expect("a reply")), 0);
    still_serving(&sim);
}

#[test]
fn peers_that_trickle_big_frames_neither_keep_small_requests_out_nor_hold_on_for_ever() {
    // The defaults: a 256 MiB budget, 64 MiB frames at most.
    let sim = Sim::start(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    // Four peers announce the largest frame and send one byte of it every 100 ms.
    let hogs: Vec<_> = (0..4)
        .map(|_| {
            let mut c = sim.conn();
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                write_raw(&mut c.stream, &(64u32 << 20).to_le_bytes());
                while !stop.load(Ordering::SeqCst) {
                    if std::io::Write::write_all(&mut c.stream, &[0x5a]).is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();
    // A smaller frame trickled the same way loses its reservation, and its connection, at its
    // deadline: ten seconds and one per MiB.
    let mut slow = sim.conn();
    write_raw(&mut slow.stream, &(2u32 << 20).to_le_bytes());
    let started = std::time::Instant::now();
    thread::sleep(Duration::from_millis(300));
    // Honest small requests are served all the while.
    for n in 0..50 {
        let mut client = sim.client();
        let reply = client
            .process("API.GetClients", None)
            .unwrap_or_else(|e| panic!("honest call {n}: {}", e.to_json()));
        assert_eq!(code(&reply), 0, "honest call {n}: {reply}");
    }
    slow.stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let closed_after = loop {
        let _ = std::io::Write::write_all(&mut slow.stream, &[0x5a]);
        let mut buf = [0u8; 1];
        match slow.stream.read(&mut buf) {
            Ok(0) => break started.elapsed(),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break started.elapsed(),
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the trickled frame was never cut off"
        );
    };
    assert!(
        closed_after >= Duration::from_secs(11),
        "cut off early: {closed_after:?}"
    );
    stop.store(true, Ordering::SeqCst);
    for hog in hogs {
        hog.join().unwrap();
    }
}
