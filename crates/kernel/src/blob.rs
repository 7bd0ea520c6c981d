//! A content-addressed blob store: attachments, scans and results, named by their SHA-256.
//!
//! A blob lives at `<root>/ab/cd/abcd…` (the hex digest, fanned out by its first two bytes). A
//! write goes to a temporary file in the target folder, is flushed to disk, then renamed into
//! place, so a reader never sees half a file and a crash leaves no partial blob. Writing the same
//! content twice is a no-op.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::problem::Error;

/// The SHA-256 digest naming a blob, as 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(String);

impl BlobId {
    pub fn parse(s: &str) -> Result<BlobId, Error> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(BlobId(s.to_string()))
        } else {
            Err(Error::Invalid {
                field: "blob id".into(),
                reason: "expected 64 lower-case hex digits".into(),
            })
        }
    }

    pub fn of(bytes: &[u8]) -> BlobId {
        BlobId(hex::encode(Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Blobs under one folder.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobStore, Error> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(BlobStore { root })
    }

    fn path(&self, id: &BlobId) -> PathBuf {
        let h = id.as_str();
        self.root.join(&h[0..2]).join(&h[2..4]).join(h)
    }

    /// Stores `bytes`; returns their id.
    pub fn put(&self, bytes: &[u8]) -> Result<BlobId, Error> {
        self.put_reader(bytes)
    }

    /// Stores everything `reader` yields, hashing as it goes.
    pub fn put_reader(&self, mut reader: impl Read) -> Result<BlobId, Error> {
        let staging = self.root.join("staging");
        std::fs::create_dir_all(&staging)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&staging)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
        }
        tmp.as_file().sync_all()?;
        let id = BlobId(hex::encode(hasher.finalize()));
        let target = self.path(&id);
        if target.exists() {
            return Ok(id);
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        tmp.persist(&target).map_err(|e| Error::Io(e.error))?;
        if let Some(dir) = target.parent() {
            sync_dir(dir);
        }
        Ok(id)
    }

    /// Reads a whole blob, checking that its content still matches its name.
    pub fn get(&self, id: &BlobId) -> Result<Vec<u8>, Error> {
        let path = self.path(id);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(format!("blob {id}")));
            }
            Err(e) => return Err(e.into()),
        };
        if BlobId::of(&bytes) != *id {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("blob {id} is corrupt on disk"),
            )));
        }
        Ok(bytes)
    }

    pub fn contains(&self, id: &BlobId) -> bool {
        self.path(id).exists()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn sync_dir(dir: &Path) {
    // Persisting the rename needs the directory flushed; failure to open a directory for
    // syncing (some filesystems refuse) does not lose the blob, so it is not an error.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_content_and_detects_corruption() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = BlobStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let id = store
            .put(b"giay khai sinh")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id, BlobId::of(b"giay khai sinh"));
        assert_eq!(
            store
                .put(b"giay khai sinh")
                .unwrap_or_else(|e| panic!("{e}")),
            id
        );
        assert_eq!(
            store.get(&id).unwrap_or_else(|e| panic!("{e}")),
            b"giay khai sinh"
        );
        let other = BlobId::of(b"nothing");
        assert!(matches!(store.get(&other), Err(Error::NotFound(_))));
        std::fs::write(store.path(&id), b"tampered").unwrap_or_else(|e| panic!("{e}"));
        assert!(store.get(&id).is_err());
        assert!(BlobId::parse("../../etc/passwd").is_err());
        assert!(BlobId::parse(&"A".repeat(64)).is_err());
    }
}
