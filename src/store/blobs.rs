//! Uploaded materials, stored by content (SHA-256) in a folder that nothing
//! serves directly. A file is written to a temporary name, synced, then
//! renamed, so a crash never leaves half a file under a real name. Size is
//! limited, and the bytes must be of the kind the applicant declared.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::audit::sha256_hex;

#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    max_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug)]
pub enum BlobError {
    TooLarge {
        size: u64,
        max: u64,
    },
    Empty,
    /// The bytes are not what the declared kind's files begin with.
    WrongKind {
        declared: String,
    },
    UnknownKind(String),
    /// Begins as a PDF does but is not one a reader can open (damaged,
    /// cut off, random bytes after the header, encrypted).
    UnreadablePdf,
    NotFound(String),
    Io(std::io::Error),
}

impl std::fmt::Display for BlobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobError::TooLarge { size, max } => {
                write!(f, "文件过大（{size} 字节），上限为 {max} 字节")
            }
            BlobError::Empty => write!(f, "文件为空"),
            BlobError::WrongKind { declared } => {
                write!(f, "文件内容不是{}格式", declared.to_uppercase())
            }
            BlobError::UnknownKind(kind) => write!(f, "不接受的文件格式：{kind}"),
            BlobError::UnreadablePdf => write!(
                f,
                "文件无法作为PDF打开（已损坏、不完整或已加密），请重新导出后上传"
            ),
            BlobError::NotFound(sha) => write!(f, "no stored file {sha}"),
            BlobError::Io(error) => write!(f, "storage: {error}"),
        }
    }
}

impl std::error::Error for BlobError {}

impl From<std::io::Error> for BlobError {
    fn from(error: std::io::Error) -> BlobError {
        BlobError::Io(error)
    }
}

/// What files of a kind begin with.
fn magic(kind: &str) -> Option<&'static [&'static [u8]]> {
    Some(match kind {
        "pdf" => &[b"%PDF-"],
        "png" => &[b"\x89PNG\r\n\x1a\n"],
        "jpg" | "jpeg" => &[b"\xFF\xD8\xFF"],
        // OFD, DOCX and XLSX are ZIP containers.
        "ofd" | "docx" | "xlsx" => &[b"PK\x03\x04"],
        // Legacy Office files are OLE compound documents.
        "doc" | "xls" => &[b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"],
        _ => return None,
    })
}

impl Blobs {
    pub fn new(dir: PathBuf, max_bytes: u64) -> Blobs {
        Blobs { dir, max_bytes }
    }

    fn path(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        valid.then(|| self.dir.join(&sha256[..2]).join(&sha256[2..]))
    }

    /// Stores `bytes` declared as `kind`; storing the same bytes again is a no-op.
    ///
    /// # Errors
    /// Too large, empty, of another kind than declared, or an IO failure.
    pub fn put(&self, kind: &str, bytes: &[u8]) -> Result<Stored, BlobError> {
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Err(BlobError::TooLarge {
                size,
                max: self.max_bytes,
            });
        }
        if bytes.is_empty() {
            return Err(BlobError::Empty);
        }
        let kind = kind.to_ascii_lowercase();
        let prefixes = magic(&kind).ok_or_else(|| BlobError::UnknownKind(kind.clone()))?;
        if !prefixes.iter().any(|prefix| bytes.starts_with(prefix)) {
            return Err(BlobError::WrongKind { declared: kind });
        }
        if kind == "pdf" && !opens_as_pdf(bytes) {
            return Err(BlobError::UnreadablePdf);
        }
        let sha256 = sha256_hex(bytes);
        let path = self
            .path(&sha256)
            .ok_or_else(|| BlobError::NotFound(sha256.clone()))?;
        if path.exists() {
            return Ok(Stored { sha256, size });
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(folder)?;
        let temporary = folder.join(format!(".{}.{}.tmp", &sha256[2..], std::process::id()));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)?;
        std::fs::File::open(folder)?.sync_all()?;
        Ok(Stored { sha256, size })
    }

    /// The bytes stored under a hash, checked against it.
    ///
    /// # Errors
    /// An unknown or malformed hash, or bytes that no longer match it.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let path = self
            .path(sha256)
            .ok_or_else(|| BlobError::NotFound(sha256.to_string()))?;
        let bytes = std::fs::read(&path).map_err(|_| BlobError::NotFound(sha256.to_string()))?;
        if sha256_hex(&bytes) != sha256 {
            return Err(BlobError::NotFound(sha256.to_string()));
        }
        Ok(bytes)
    }
}

/// Whether a PDF reader opens these bytes and finds a page: its
/// cross-reference table (or, damaged, the objects it can rebuild it from)
/// and its page tree. A reader that fails on hostile bytes by panicking
/// refuses them too.
fn opens_as_pdf(bytes: &[u8]) -> bool {
    let bytes = bytes.to_vec();
    std::panic::catch_unwind(move || {
        hayro_syntax::Pdf::new(bytes).is_ok_and(|pdf| !pdf.pages().is_empty())
    })
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(max: u64) -> (Blobs, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("onewindow-blobs-{}-{max}", std::process::id()));
        (Blobs::new(dir.clone(), max), dir)
    }

    #[test]
    fn content_addressed_and_checked() {
        let (blobs, dir) = blobs(1024);
        let sample = crate::app::samples::sample_pdf("sample");
        let pdf = sample.as_slice();
        let stored = blobs.put("pdf", pdf).unwrap();
        assert_eq!(stored.sha256, sha256_hex(pdf));
        assert_eq!(
            blobs.put("PDF", pdf).unwrap(),
            stored,
            "the same bytes store once"
        );
        assert_eq!(blobs.get(&stored.sha256).unwrap(), pdf);
        assert!(matches!(
            blobs.put("pdf", b"MZ\x90\x00 an executable"),
            Err(BlobError::WrongKind { .. })
        ));
        assert!(matches!(
            blobs.put("exe", b"MZ"),
            Err(BlobError::UnknownKind(_))
        ));
        assert!(matches!(
            blobs.put("pdf", &[b'%'; 2048]),
            Err(BlobError::TooLarge {
                size: 2048,
                max: 1024
            })
        ));
        assert!(matches!(blobs.put("pdf", b""), Err(BlobError::Empty)));
        // Parsed, not judged by the header: random bytes after `%PDF-`,
        // and a PDF cut off before its pages, are refused.
        let noise: Vec<u8> = (0..900u32).map(|i| (i * 7919 % 251) as u8).collect();
        let fake = [b"%PDF-1.7\n".as_slice(), &noise].concat();
        assert!(matches!(
            blobs.put("pdf", &fake),
            Err(BlobError::UnreadablePdf)
        ));
        assert!(matches!(
            blobs.put("pdf", &pdf[..pdf.len() / 3]),
            Err(BlobError::UnreadablePdf)
        ));
        assert!(matches!(
            blobs.get("../../etc/passwd"),
            Err(BlobError::NotFound(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
