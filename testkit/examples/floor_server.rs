//! The cheapest server a page's calls could talk to: `floor-server [LISTEN_ADDR]` answers every
//! length-prefixed frame at once with one fixed frame of the size of a small simulator reply,
//! with no decryption, no parsing and no work. Prints `listening on ADDR:PORT` first. Page (e) of
//! scripts/bench-php-fpm.sh makes its three exchanges with it over a persistent socket, so what
//! (e) costs over the no-API page (d) is the floor that three loopback request/reply exchanges
//! with a server on the same machine put under any client, this library's or another.

use mikrobill::protocol::frame::{read_frame, write_frame};
use std::net::{TcpListener, TcpStream};
use std::thread;

/// The length of a simulator reply to a small read (`{"return":...,"code":0}`, AES blocks).
const REPLY_BYTES: usize = 96;

fn main() {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&listen).expect("bind");
    println!(
        "listening on {}",
        listener.local_addr().expect("local address")
    );
    for client in listener.incoming().flatten() {
        thread::spawn(move || answer(client));
    }
}

fn answer(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let reply = [0u8; REPLY_BYTES];
    while read_frame(&mut stream, 1 << 20).is_ok() {
        if write_frame(&mut stream, &reply).is_err() {
            return;
        }
    }
}
