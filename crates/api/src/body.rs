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

/// Reads `body` whole: at most `limit` bytes, in memory up to
/// `spool_above` bytes, in a new file of `spool_dir` beyond.
pub async fn receive(
    body: axum::body::Body,
    limit: u64,
    spool_above: u64,
    spool_dir: &Path,
) -> Result<Received, ReceiveError> {
    let mut stream = body.into_data_stream();
    let mut hash = Sha256::new();
    let mut len = 0u64;
    let mut memory: Vec<u8> = Vec::new();
    let mut file: Option<(tokio::fs::File, Spool)> = None;
    while let Some(chunk) = stream.next().await {
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
            let r = receive(body(vec![b"abc", b"def"]), 100, 10, d.path())
                .await
                .unwrap();
            assert!(!r.spooled());
            assert_eq!(r.sha256, mugai_core::sha256_hex(b"abcdef"));
            assert_eq!(r.into_bytes().unwrap(), b"abcdef");

            let r = receive(body(vec![b"abcdefgh", b"ijklmnop"]), 100, 10, d.path())
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
            let e = receive(body(vec![b"abcdefgh", b"ijklmnop", b"q"]), 16, 4, d.path())
                .await
                .unwrap_err();
            assert!(matches!(e, ReceiveError::TooLarge(16)), "{e}");
            let ok = receive(body(vec![b"abcdefgh", b"ijklmnop"]), 16, 4, d.path()).await;
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
            let r = receive(body(vec![b"0123456789", b"abc"]), 100, 4, d.path())
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
