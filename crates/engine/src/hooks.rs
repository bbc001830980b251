//! Test-only rebuilders that misbehave on purpose, to prove that the worker
//! pool contains each failure to its own file. Compiled only with the
//! `test-hooks` feature.

use mugai_core::{Blocked, FileType, Rebuilt};

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
        _ => Ok(Rebuilt::new(b"test hook ok\n".to_vec(), FileType::Text)),
    }
}
