//! Receiving a request body: counted against the limit while it streams
//! (413 as soon as it passes it, whatever `Content-Length` said), hashed on
//! the way, kept in memory up to a threshold and spooled to a file in the
//! spool folder beyond it.

use futures_util::StreamExt as _;
use mugai_daemon::place;
use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt as _;

/// Why a body was not received.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the body did not arrive in time ({0} bytes received)")]
    TooSlow(u64),
    #[error("the body could not be read: {0}")]
    Client(String),
    #[error("cannot spool the body: {0}")]
    Io(#[from] io::Error),
}

/// A received body.
#[derive(Debug)]
pub struct Received {
    pub len: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    data: Data,
}

#[derive(Debug)]
enum Data {
    Memory(Vec<u8>),
    File(Spool),
}

/// A spool file, removed when dropped unless it was moved away.
#[derive(Debug)]
struct Spool {
    path: Option<PathBuf>,
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// How long a body may take: `base`, plus one second per `min_rate`
/// bytes received.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub base: std::time::Duration,
    pub min_rate: u64,
}

impl Pace {
    /// The time allowed once `received` bytes have arrived.
    pub fn allowed(&self, received: u64) -> std::time::Duration {
        self.base
            + std::time::Duration::from_secs_f64(received as f64 / self.min_rate.max(1) as f64)
    }
}

/// Reads `body` whole: at most `limit` bytes, at the `pace` given, in
/// memory up to `spool_above` bytes, in a new file of `spool_dir` beyond.
pub async fn receive(
    body: axum::body::Body,
    limit: u64,
    spool_above: u64,
    spool_dir: &Path,
    pace: Pace,
) -> Result<Received, ReceiveError> {
    let started = tokio::time::Instant::now();
    let mut stream = body.into_data_stream();
    let mut hash = Sha256::new();
    let mut len = 0u64;
    let mut memory: Vec<u8> = Vec::new();
    let mut file: Option<(tokio::fs::File, Spool)> = None;
    loop {
        let deadline = started + pace.allowed(len);
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| ReceiveError::TooSlow(len))?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| ReceiveError::Client(e.to_string()))?;
        len += chunk.len() as u64;
        if len > limit {
            return Err(ReceiveError::TooLarge(limit));
        }
        hash.update(&chunk);
        match &mut file {
            Some((f, _)) => f.write_all(&chunk).await?,
            None if len > spool_above => {
                let path = spool_dir.join(format!(
                    "{}{}",
                    place::TMP_PREFIX,
                    crate::ids::JobId::new().map_err(io::Error::other)?
                ));
                let spool = Spool {
                    path: Some(path.clone()),
                };
                let mut f = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .await?;
                f.write_all(&memory).await?;
                f.write_all(&chunk).await?;
                memory = Vec::new();
                file = Some((f, spool));
            }
            None => memory.extend_from_slice(&chunk),
        }
    }
    let data = match file {
        Some((mut f, spool)) => {
            f.flush().await?;
            f.sync_all().await?;
            Data::File(spool)
        }
        None => Data::Memory(memory),
    };
    Ok(Received {
        len,
        sha256: hex::encode(hash.finalize()),
        data,
    })
}

impl Received {
    /// For tests and callers that already hold the bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Received {
        Received {
            len: bytes.len() as u64,
            sha256: mugai_core::sha256_hex(&bytes),
            data: Data::Memory(bytes),
        }
    }

    /// Whether the body waits on disk.
    pub fn spooled(&self) -> bool {
        matches!(self.data, Data::File(_))
    }

    /// The bytes (read back from the spool file when spooled).
    pub fn into_bytes(self) -> io::Result<Vec<u8>> {
        match self.data {
            Data::Memory(v) => Ok(v),
            Data::File(s) => match &s.path {
                Some(p) => std::fs::read(p),
                None => Err(io::Error::other("spool file already moved")),
            },
        }
    }

    /// Places the body durably as `dir/name` (a new name in `dir`): the
    /// spool file is renamed there, bytes in memory are written to a
    /// temporary name, fsynced and renamed.
    pub fn persist(self, dir: &Path, name: &str, tag: &str) -> io::Result<()> {
        match self.data {
            Data::Memory(v) => place::replace_file(dir, name, &v, tag),
            Data::File(mut s) => {
                let from = s
                    .path
                    .take()
                    .ok_or_else(|| io::Error::other("spool file already moved"))?;
                let r = std::fs::rename(&from, dir.join(name)).and_then(|()| place::sync_dir(dir));
                if r.is_err() {
                    let _ = std::fs::remove_file(&from);
                }
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: Vec<&'static [u8]>) -> axum::body::Body {
        let s = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, io::Error>(axum::body::Bytes::from_static(c))),
        );
        axum::body::Body::from_stream(s)
    }

    const PACE: Pace = Pace {
        base: std::time::Duration::from_secs(60),
        min_rate: 1000,
    };

    #[test]
    fn a_body_that_stops_coming_is_given_up() {
        let d = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let first = futures_util::stream::iter([Ok::<_, io::Error>(
                axum::body::Bytes::from_static(b"0123456789abcdef"),
            )]);
            let stalled = first.chain(futures_util::stream::pending());
            let pace = Pace {
                base: std::time::Duration::from_secs(5),
                min_rate: 4,
            };
            let e = receive(
                axum::body::Body::from_stream(stalled),
                100,
                4,
                d.path(),
                pace,
            )
            .await
            .unwrap_err();
            assert!(matches!(e, ReceiveError::TooSlow(16)), "{e}");
        });
        // 16 bytes at 4 bytes/s: 5 + 4 seconds were allowed.
        assert_eq!(PACE.allowed(0), std::time::Duration::from_secs(60));
        assert_eq!(
            Pace {
                base: std::time::Duration::from_secs(5),
                min_rate: 4
            }
            .allowed(16),
            std::time::Duration::from_secs(9)
        );
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn small_bodies_stay_in_memory_large_ones_are_spooled() {
        let d = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let r = receive(body(vec![b"abc", b"def"]), 100, 10, d.path(), PACE)
                .await
                .unwrap();
            assert!(!r.spooled());
            assert_eq!(r.sha256, mugai_core::sha256_hex(b"abcdef"));
            assert_eq!(r.into_bytes().unwrap(), b"abcdef");

            let r = receive(
                body(vec![b"abcdefgh", b"ijklmnop"]),
                100,
                10,
                d.path(),
                PACE,
            )
            .await
            .unwrap();
            assert!(r.spooled());
            assert_eq!(r.len, 16);
            assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
            assert_eq!(r.into_bytes().unwrap(), b"abcdefghijklmnop");
            // Dropped: the spool file is gone.
            assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        });
    }

    #[test]
    fn the_limit_is_enforced_while_streaming() {
        let d = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let e = receive(
                body(vec![b"abcdefgh", b"ijklmnop", b"q"]),
                16,
                4,
                d.path(),
                PACE,
            )
            .await
            .unwrap_err();
            assert!(matches!(e, ReceiveError::TooLarge(16)), "{e}");
            let ok = receive(body(vec![b"abcdefgh", b"ijklmnop"]), 16, 4, d.path(), PACE).await;
            assert!(ok.is_ok());
        });
        // Nothing is left behind.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn persist_moves_the_spool_file() {
        let d = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let r = receive(body(vec![b"0123456789", b"abc"]), 100, 4, d.path(), PACE)
                .await
                .unwrap();
            r.persist(dest.path(), "input", "t").unwrap();
            Received::from_bytes(b"xyz".to_vec())
                .persist(dest.path(), "small", "t")
                .unwrap();
        });
        assert_eq!(
            std::fs::read(dest.path().join("input")).unwrap(),
            b"0123456789abc"
        );
        assert_eq!(std::fs::read(dest.path().join("small")).unwrap(), b"xyz");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
