//! A body being received: in memory up to a threshold, then in an
//! anonymous temporary file (unlinked at once, so nothing is left behind
//! whatever happens to the process).

use crate::parse::ChunkSink;
use std::io::{self, SeekFrom};
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A body held in memory up to `threshold` bytes, on disk beyond.
#[derive(Debug)]
pub struct Spool {
    mem: Vec<u8>,
    file: Option<tokio::fs::File>,
    len: u64,
    threshold: u64,
    dir: Option<PathBuf>,
}

impl Spool {
    /// `dir`: where the temporary file goes (default: the system's).
    pub fn new(threshold: u64, dir: Option<PathBuf>) -> Spool {
        Spool {
            mem: Vec::new(),
            file: None,
            len: 0,
            threshold,
            dir,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the body went to disk.
    pub fn on_disk(&self) -> bool {
        self.file.is_some()
    }

    /// The first bytes held in memory (all of them until spooled).
    pub fn head(&self) -> &[u8] {
        &self.mem
    }

    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.len + data.len() as u64 > self.threshold {
            let dir = self.dir.clone();
            let f = tokio::task::spawn_blocking(move || match dir {
                Some(d) => tempfile::tempfile_in(d),
                None => tempfile::tempfile(),
            })
            .await
            .map_err(io::Error::other)??;
            let mut f = tokio::fs::File::from_std(f);
            f.write_all(&self.mem).await?;
            self.mem = Vec::new();
            self.file = Some(f);
        }
        match &mut self.file {
            Some(f) => f.write_all(data).await?,
            None => self.mem.extend_from_slice(data),
        }
        self.len += data.len() as u64;
        Ok(())
    }

    /// The whole body. The caller bounds `len` (the body size limit) and
    /// how many bodies are loaded at once.
    pub async fn into_bytes(self) -> io::Result<Vec<u8>> {
        match self.file {
            None => Ok(self.mem),
            Some(mut f) => {
                f.flush().await?;
                f.seek(SeekFrom::Start(0)).await?;
                let cap = usize::try_from(self.len).map_err(io::Error::other)?;
                let mut v = Vec::with_capacity(cap);
                (&mut f).take(self.len).read_to_end(&mut v).await?;
                if v.len() as u64 != self.len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the spool file is shorter than what was written",
                    ));
                }
                Ok(v)
            }
        }
    }
}

impl ChunkSink for Spool {
    async fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.write(data).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_stay_in_memory_large_ones_go_to_disk() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut s = Spool::new(10, None);
            s.write(b"12345").await.unwrap();
            assert!(!s.on_disk());
            s.write(b"67890").await.unwrap();
            assert!(!s.on_disk());
            s.write(b"x").await.unwrap();
            assert!(s.on_disk());
            assert!(s.head().is_empty());
            assert_eq!(s.len(), 11);
            assert_eq!(s.into_bytes().await.unwrap(), b"1234567890x");
        });
    }
}
