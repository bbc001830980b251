//! Test-only rebuilders that misbehave on purpose, to prove that the worker
//! pool contains each failure to its own file, and that the worker's
//! sandbox stops what a subverted parser would try. Compiled only with the
//! `test-hooks` feature.

use mugai_core::{Blocked, Code, FileType, Rebuilt};
use std::time::Duration;

pub const PREFIX: &[u8] = b"MUGAI-TEST-HOOK:";

pub fn is_hook(bytes: &[u8]) -> bool {
    bytes.starts_with(PREFIX)
}

pub fn run(bytes: &[u8]) -> Result<Rebuilt, Blocked> {
    let cmd = String::from_utf8_lossy(&bytes[PREFIX.len()..]);
    match cmd.trim() {
        "panic" => panic!("test hook asked for a panic"),
        "abort" => std::process::abort(),
        "alloc" => {
            let mut hog: Vec<Vec<u8>> = Vec::new();
            loop {
                // Touch every page so the memory is really used.
                hog.push(vec![1u8; 64 << 20]);
                std::hint::black_box(&hog);
            }
        }
        "loop" => loop {
            std::hint::spin_loop();
        },
        // What an exploited parser would try next. Each must fail or kill
        // the worker; if one works, the output says so.
        "open" => escaped("read /etc/passwd", std::fs::read("/etc/passwd").map(drop)),
        "socket" => escaped(
            "connect to 127.0.0.1:9",
            std::net::TcpStream::connect("127.0.0.1:9").map(drop),
        ),
        "exec" => {
            use std::os::unix::process::CommandExt;
            // `exec` replaces the process only if it works.
            let e = std::process::Command::new("/bin/sh")
                .args(["-c", "exit 0"])
                .exec();
            escaped("exec /bin/sh", Err(e))
        }
        "write" => escaped(
            "write a file",
            std::fs::write(std::env::temp_dir().join("mugai-hook-escaped"), b"x"),
        ),
        "fork" => escaped(
            "start a process",
            std::process::Command::new("/bin/true").status().map(drop),
        ),
        // Threads are allowed: a rebuilder may use them.
        "thread" => {
            let t = std::thread::spawn(|| 6 * 7);
            match t.join() {
                Ok(42) => Ok(Rebuilt::new(b"thread ok\n".to_vec(), FileType::Text)),
                _ => Err(Blocked::new(Code::RebuildFailed, "thread failed")),
            }
        }
        // Stays busy long enough for a test to look at the running worker.
        "hold" => {
            std::thread::sleep(Duration::from_secs(3));
            Ok(Rebuilt::new(b"test hook ok\n".to_vec(), FileType::Text))
        }
        _ => Ok(Rebuilt::new(b"test hook ok\n".to_vec(), FileType::Text)),
    }
}

/// The end of an escape attempt that did not kill the worker: refused is a
/// block; done is an output that says so (and that a test will catch).
fn escaped(what: &str, r: std::io::Result<()>) -> Result<Rebuilt, Blocked> {
    match r {
        Err(e) => Err(Blocked::new(
            Code::RebuildFailed,
            format!("test hook could not {what}: {e}"),
        )),
        Ok(()) => Ok(Rebuilt::new(
            format!("ESCAPED: {what}\n").into_bytes(),
            FileType::Text,
        )),
    }
}
