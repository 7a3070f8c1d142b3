//! Datasets, the generator and the --state file's durability across kill -9.

use mikrobill_sim::state::tree::Change;
use mikrobill_sim::state::wal;
use mikrobill_testkit::sim::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const WRITERS: usize = 4;

fn name_path(guid: u64) -> String {
    format!("API.Client.{guid}.AutorizeInfo.Name")
}

#[test]
fn no_acknowledged_change_is_lost_after_kill_9() {
    let dir = TempDir::new("kill9");
    let state = dir.file("state.json");
    let mut sim = Sim::start(&["--state", &state]);
    let acked = Arc::new(AtomicUsize::new(0));
    let targets = [IVANOV, PETROV, SIDOROVA, IVANOV];
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut cl = sim.client();
            let acked = Arc::clone(&acked);
            thread::spawn(move || {
                // (last acknowledged i, last sent i, acknowledged AddAccount GUIDs)
                let mut last_ack = None;
                let mut last_sent = None;
                let mut added = Vec::new();
                for i in 0.. {
                    last_sent = Some(i);
                    let reply = if w == 3 {
                        cl.process(
                            &format!("API.Client.{SIDOROVA}.AutorizeInfo.Accounts.AddAccount"),
                            Some(&format!(
                                r#"["10.3.{}.{}","","w{i}","p"]"#,
                                i / 250,
                                i % 250
                            )),
                        )
                    } else {
                        cl.process(&name_path(targets[w]), Some(&format!("\"w{w}-{i}\"")))
                    };
                    match reply {
                        Ok(r) => {
                            assert_eq!(code(&r), 0, "{r}");
                            if w == 3 {
                                added.push(ret(&r).as_u64().unwrap());
                            }
                            last_ack = Some(i);
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => break,
                    }
                }
                (last_ack, last_sent, added)
            })
        })
        .collect();
    // Wait for 400 acknowledgements, but fail rather than hang if they never come.
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.load(Ordering::SeqCst) < 400 {
        assert!(
            Instant::now() < deadline,
            "only {} changes acknowledged in 120 s",
            acked.load(Ordering::SeqCst)
        );
        thread::yield_now();
    }
    sim.child.kill().unwrap();
    sim.child.wait().unwrap();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    let sim = Sim::start(&["--state", &state]);
    let mut cl = sim.client();
    for (w, (last_ack, last_sent, _)) in results.iter().enumerate().take(3) {
        let name = ret(&call(&mut cl, &name_path(targets[w]), None));
        let name = name.as_str().unwrap();
        let i: usize = name
            .strip_prefix(&format!("w{w}-"))
            .unwrap_or_else(|| panic!("writer {w}: unexpected name {name}"))
            .parse()
            .unwrap();
        // The last acknowledged value, or the one in flight when the server died.
        assert!(
            last_ack.is_some_and(|a| i >= a) && last_sent.is_some_and(|s| i <= s),
            "writer {w}: read {i}, acknowledged up to {last_ack:?}, sent up to {last_sent:?}"
        );
    }
    let accounts = ret(&call(
        &mut cl,
        &format!("API.Client.{SIDOROVA}.AutorizeInfo.Accounts"),
        None,
    ));
    let accounts: Vec<u64> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    for guid in &results[3].2 {
        assert!(
            accounts.contains(guid),
            "account {guid} was acknowledged but lost"
        );
    }
    // GUIDs handed out after the restart do not collide with recovered ones.
    let fresh = ret(&call(
        &mut cl,
        &format!("API.Client.{IVANOV}.AutorizeInfo.Accounts.AddAccount"),
        Some(r#"["10.9.9.9","","fresh","p"]"#),
    ))
    .as_u64()
    .unwrap();
    assert!(!accounts.contains(&fresh));
}

#[test]
fn torn_wal_tail_is_ignored_and_state_survives_clean_restarts() {
    let dir = TempDir::new("torn");
    let state = dir.file("state.json");
    {
        let mut sim = Sim::start(&["--state", &state]);
        let mut cl = sim.client();
        call(&mut cl, &name_path(IVANOV), Some(r#""kept""#));
        sim.signal(libc::SIGKILL);
        sim.child.wait().unwrap();
    }
    // A record torn mid-write by the crash, then a record with a bad checksum.
    let log = format!("{state}.wal");
    let mut bytes = std::fs::read(&log).unwrap();
    assert!(
        !bytes.is_empty(),
        "the set must be in the write-ahead log before its reply"
    );
    let valid = bytes.len();
    let bad = wal::record_line(&Change::Set {
        path: name_path(IVANOV),
        value: json!("bad checksum"),
    })
    .unwrap();
    bytes.extend_from_slice(&bad);
    let sum = bytes.len() - 2;
    bytes[sum] = if bytes[sum] == b'0' { b'1' } else { b'0' };
    bytes.extend_from_slice(br#"{"op":"set","path":"API.Client.633824158637492.Autor"#);
    std::fs::write(&log, &bytes).unwrap();
    assert_eq!(
        wal::parse_records(&bytes),
        (wal::parse_records(&bytes[..valid]).0, wal::Tail::Torn)
    );
    {
        let mut sim = Sim::start(&["--state", &state]);
        let mut cl = sim.client();
        assert_eq!(ret(&call(&mut cl, &name_path(IVANOV), None)), json!("kept"));
        call(&mut cl, &name_path(PETROV), Some(r#""also kept""#));
        sim.signal(libc::SIGTERM);
        assert_eq!(sim.child.wait().unwrap().code(), Some(0));
    }
    // A clean exit compacts: the snapshot holds everything and the log is empty.
    assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
    let sim = Sim::start(&["--state", &state, "--generate", "5"]);
    let mut cl = sim.client();
    assert_eq!(ret(&call(&mut cl, &name_path(IVANOV), None)), json!("kept"));
    assert_eq!(
        ret(&call(&mut cl, &name_path(PETROV), None)),
        json!("also kept")
    );
    // The existing state file wins over --generate.
    assert_eq!(
        ret(&call(&mut cl, "API.GetClients", None))
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn corrupt_snapshot_refuses_to_start() {
    let dir = TempDir::new("corrupt");
    let state = dir.file("state.json");
    std::fs::write(&state, "{not json").unwrap();
    let (status, stderr) = start_fails(&["--state", &state]);
    assert_eq!(status, Some(1));
    assert!(stderr.contains("state.json"), "{stderr}");
}

#[test]
fn dataset_file_is_loaded() {
    let dir = TempDir::new("dataset");
    let path = dir.file("data.json");
    std::fs::write(
        &path,
        r#"{"clients":[
            {"GUID":18446744073709551615,"Name":"Max","Money":"1.50","Blocked":true,"BlockReason":5,
             "Accounts":[{"GUID":18446744073709551614,"IP":"10.0.0.9","MAC":"","Login":"max","Password":"m","PPP_IP":""}],
             "Fields":[{"id":7,"FieldName":"Договор","FieldValue":"X-1"}]},
            {"GUID":12,"Name":"Min"}]}"#,
    )
    .unwrap();
    let sim = Sim::start(&["--dataset", &path]);
    let mut cl = sim.client();
    assert_eq!(
        call(&mut cl, "API.GetClients", None),
        r#"{"return":[18446744073709551615,12],"code":0}"#
    );
    let max = "API.Client.18446744073709551615";
    assert_eq!(
        ret(&call(
            &mut cl,
            &format!("{max}.AutorizeInfo.Accounts.18446744073709551614.Login"),
            None
        )),
        json!("max")
    );
    assert_eq!(
        ret(&call(
            &mut cl,
            &format!("{max}.PersonalDataInfo.Field.7.FieldValue"),
            None
        )),
        json!("X-1")
    );
    assert_eq!(
        ret(&call(&mut cl, "API.GetClients", Some("\"x-1\""))),
        json!([u64::MAX])
    );
    // Omitted properties take documented defaults.
    assert_eq!(
        ret(&call(&mut cl, "API.Client.12.BillingInfo.Money", None)),
        json!("0.00")
    );
    assert_eq!(
        ret(&call(&mut cl, "API.Client.12.StatusInfo.BlockReason", None)),
        json!(-1)
    );

    std::fs::write(&path, r#"{"clients":[{"GUID":1,"Nmae":"typo"}]}"#).unwrap();
    let (status, stderr) = start_fails(&["--dataset", &path]);
    assert_eq!(status, Some(1));
    assert!(stderr.contains("Nmae"), "{stderr}");
}

#[test]
fn generated_clients_are_deterministic_and_searchable() {
    let a = Sim::start(&["--generate", "1000"]);
    let b = Sim::start(&["--generate", "1000"]);
    let (mut ca, mut cb) = (a.client(), b.client());
    let all = ret(&call(&mut ca, "API.GetClients", None));
    assert_eq!(all.as_array().unwrap().len(), 1000);
    assert_eq!(all, ret(&call(&mut cb, "API.GetClients", None)));
    let guid = all[421].as_u64().unwrap();
    assert!(guid > 1 << 53);
    let found = ret(&call(&mut ca, "API.GetClients", Some("\"user421b\"")));
    assert_eq!(found, json!([guid]));
    let name = format!("API.Client.{guid}.AutorizeInfo.Name");
    assert_eq!(call(&mut ca, &name, None), call(&mut cb, &name, None));
    call(&mut ca, &name, Some(r#""changed""#));
    assert_eq!(ret(&call(&mut ca, &name, None)), json!("changed"));
    assert_ne!(call(&mut ca, &name, None), call(&mut cb, &name, None));
}

#[test]
fn a_million_generated_clients() {
    // Listing all million GUIDs works too, but takes seconds in a debug build, so the test
    // covers the linear search and a copy-on-write set instead.
    let sim = Sim::start(&["--generate", "1000000"]);
    let mut cl = sim.client();
    let found = ret(&call(&mut cl, "API.GetClients", Some("\"user999999b\"")));
    assert_eq!(found.as_array().unwrap().len(), 1);
    let guid = found[0].as_u64().unwrap();
    let money = format!("API.Client.{guid}.BillingInfo.Money");
    call(&mut cl, &money, Some(r#""42.00""#));
    assert_eq!(ret(&call(&mut cl, &money, None)), json!("42.00"));
    let found = ret(&call(&mut cl, "API.GetClients", Some("\"user999999b\"")));
    assert_eq!(found, json!([guid]));
}

#[test]
fn two_simulators_cannot_share_a_state_file() {
    let dir = TempDir::new("lock");
    let state = dir.file("state.json");
    let first = Sim::start(&["--state", &state]);
    let mut cl = first.client();
    call(&mut cl, &name_path(IVANOV), Some(r#""first""#));
    let (status, stderr) = start_fails(&["--state", &state]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("in use by another simulator"), "{stderr}");
    // The first one is untouched and still serving.
    assert_eq!(
        ret(&call(&mut cl, &name_path(IVANOV), None)),
        json!("first")
    );
    drop(cl);
    drop(first);
    // Once it is gone (the kernel drops the lock with the process) the state opens again.
    let again = Sim::start(&["--state", &state]);
    let mut cl = again.client();
    assert_eq!(
        ret(&call(&mut cl, &name_path(IVANOV), None)),
        json!("first")
    );
}

#[test]
fn the_largest_account_guid_is_not_handed_out_twice() {
    let dir = TempDir::new("maxguid");
    let path = dir.file("data.json");
    std::fs::write(
        &path,
        r#"{"clients":[{"GUID":1,"Accounts":[{"GUID":18446744073709551615}]}]}"#,
    )
    .unwrap();
    let sim = Sim::start(&["--dataset", &path]);
    let mut cl = sim.client();
    let add = "API.Client.1.AutorizeInfo.Accounts.AddAccount";
    let reply = call(&mut cl, add, Some(r#"["10.0.0.1","","l","p"]"#));
    assert_eq!(code(&reply), 210, "{reply}");
    assert_eq!(
        ret(&call(&mut cl, "API.Client.1.AutorizeInfo.Accounts", None)),
        json!([u64::MAX])
    );
}

#[test]
fn absurd_limits_are_start_up_errors() {
    let (status, stderr) = start_fails(&["--generate", "18446744073709551615"]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("too many"), "{stderr}");
    let (status, stderr) = start_fails(&["--max-frame", "15"]);
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("--max-frame"), "{stderr}");
}

#[test]
fn a_corrupt_record_before_valid_ones_stops_start_up_and_keeps_the_log() {
    let dir = TempDir::new("corrupt-middle");
    let state = dir.file("state.json");
    {
        let sim = Sim::start(&["--state", &state]);
        let mut cl = sim.client();
        for i in 0..10 {
            call(
                &mut cl,
                &name_path(IVANOV),
                Some(&format!("\"change {i}\"")),
            );
        }
        sim.signal(libc::SIGKILL);
    }
    let log = format!("{state}.wal");
    let mut bytes = std::fs::read(&log).unwrap();
    let starts: Vec<usize> = std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect();
    assert_eq!(starts.len(), 11, "ten records, each acknowledged");
    // One flipped bit inside the second record's JSON.
    bytes[starts[1] + 12] ^= 0x04;
    std::fs::write(&log, &bytes).unwrap();

    let (status, stderr) = start_fails(&["--state", &state]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains("state.json.wal: record 2")
            && stderr.contains("8 valid record(s) follow it"),
        "{stderr}"
    );
    // Nothing was truncated or rewritten: the eight intact changes after it are still there.
    assert_eq!(std::fs::read(&log).unwrap(), bytes);
}

/// A small tmpfs, unmounted when dropped: a disk that can be filled. CI runs as root.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &TempDir) -> SmallDisk {
        let at = dir.0.join("disk");
        std::fs::create_dir_all(&at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&at)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a 1 MiB tmpfs failed: this test needs root (as CI runs it)"
        );
        SmallDisk(at)
    }

    /// Fills the disk to the last byte; returns the filler's path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        while file.write_all(&block[..1]).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn admin_post(admin: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {admin}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_reset_is_visible_only_once_it_is_durable() {
    let dir = TempDir::new("reset-durable");
    let disk = SmallDisk::mount(&dir);
    let state = disk.0.join("state.json").to_str().unwrap().to_string();
    let start = || {
        Sim::launch()
            .args(&["--state", &state])
            .admin("127.0.0.1:0")
            .start()
    };
    let demo_name = {
        let sim = start();
        let mut cl = sim.client();
        let name = ret(&call(&mut cl, &name_path(IVANOV), None));
        call(&mut cl, &name_path(IVANOV), Some(r#""before the reset""#));
        // The disk is full: the reset cannot be saved, answers 500 and changes nothing.
        let filler = disk.fill();
        assert_eq!(admin_post(sim.admin.as_deref().unwrap(), "/api/reset"), 500);
        assert_eq!(
            ret(&call(&mut cl, &name_path(IVANOV), None)),
            json!("before the reset")
        );
        std::fs::remove_file(filler).unwrap();
        // A change acknowledged after the failed reset survives kill -9, with the one before.
        call(
            &mut cl,
            &name_path(PETROV),
            Some(r#""after the failed reset""#),
        );
        sim.signal(libc::SIGKILL);
        name
    };
    {
        let sim = start();
        let mut cl = sim.client();
        assert_eq!(
            ret(&call(&mut cl, &name_path(IVANOV), None)),
            json!("before the reset")
        );
        assert_eq!(
            ret(&call(&mut cl, &name_path(PETROV), None)),
            json!("after the failed reset")
        );
        // A reset that is saved holds across kill -9 too.
        assert_eq!(admin_post(sim.admin.as_deref().unwrap(), "/api/reset"), 200);
        sim.signal(libc::SIGKILL);
    }
    let sim = start();
    let mut cl = sim.client();
    assert_eq!(ret(&call(&mut cl, &name_path(IVANOV), None)), demo_name);
    drop(cl);
    drop(sim);
    drop(disk);
}

/// Runs `command` as `nobody` (uid 65534), the other user of a shared folder.
fn as_nobody(command: &[&str]) {
    let status = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(command)
        .status()
        .expect("run setpriv");
    assert!(
        status.success(),
        "{command:?} as nobody failed: this test needs root (as CI runs it)"
    );
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn files_another_user_planted_in_a_shared_folder_are_refused_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("shared-folder");
    // A sticky folder every user may write to, as /tmp is; and a file of ours outside it that a
    // planted link points at.
    let shared = dir.0.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = dir.0.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let victim_text = victim.to_str().unwrap();
    let untouched = |what: &str| {
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious\n",
            "{what}"
        );
        assert_eq!(mode_of(&victim), 0o644, "{what}");
    };
    let state = shared.join("state.json");
    let state = state.to_str().unwrap();

    // The log planted as a link: the simulator refuses to start and writes nothing through it.
    let wal = format!("{state}.wal");
    as_nobody(&["ln", "-s", victim_text, &wal]);
    let (code, err) = start_fails(&["--state", state]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    untouched("a planted log");
    std::fs::remove_file(&wal).unwrap();

    // The lock planted as a link to a name that does not exist yet: no file is created there.
    let lock = format!("{state}.lock");
    std::fs::remove_file(&lock).unwrap(); // left by the run above
    let created = dir.0.join("created-by-the-link");
    as_nobody(&["ln", "-s", created.to_str().unwrap(), &lock]);
    let (code, err) = start_fails(&["--state", state]);
    assert_eq!(code, Some(1), "{err}");
    assert!(!created.exists(), "the lock followed the link");
    std::fs::remove_file(&lock).unwrap();

    // The temporary snapshot planted as a link: removed and made anew, never written through.
    let tmp = format!("{state}.tmp");
    as_nobody(&["ln", "-s", victim_text, &tmp]);
    {
        let mut sim = Sim::start(&["--state", state]);
        let mut cl = sim.client();
        call(&mut cl, &name_path(IVANOV), Some(r#""saved""#));
        sim.signal(libc::SIGTERM);
        sim.child.wait().unwrap();
    }
    untouched("a planted temporary");
    assert_eq!(mode_of(std::path::Path::new(state)), 0o600);

    // A trace pre-created (empty, readable by all) by the other user: refused, not written into.
    let trace = shared.join("trace.log");
    as_nobody(&["sh", "-c", &format!("umask 0; : > {}", trace.display())]);
    let (code, err) = start_fails(&["--trace-requests", trace.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("owned by uid 65534"), "{err}");
    assert_eq!(mode_of(&trace), 0o666, "the trace's mode was changed");

    // A second hard link to a file of ours: refused too.
    let linked = shared.join("linked.log");
    std::fs::hard_link(&victim, &linked).unwrap();
    let (code, err) = start_fails(&["--trace-requests", linked.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("2 hard links"), "{err}");
    untouched("a hard link");

    // A folder every user may write to without the sticky bit: refused outright.
    let open = dir.0.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, err) = start_fails(&["--state", open.join("state.json").to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("writable by every user and not sticky"),
        "{err}"
    );
}
