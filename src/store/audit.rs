//! The audit chain: every transition appends one entry whose hash covers the
//! entry and the previous hash, so an edited or deleted entry breaks the chain
//! from there on; the head row records the last hash, so deleting the newest
//! entries is seen too.

use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "genesis";

/// One audit entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub filing_id: String,
    pub revision: i64,
    pub actor: String,
    pub at: String,
    /// The command, as JSON.
    pub event: String,
    /// What a person wrote: reasons, correction items.
    pub comment: String,
    /// SHA-256 of the filing's state after the transition.
    pub state_hash: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an entry given the previous one.
pub fn entry_hash(prev_hash: &str, entry: &Entry) -> String {
    let mut hasher = Sha256::new();
    for part in [
        prev_hash,
        &entry.seq.to_string(),
        &entry.filing_id,
        &entry.revision.to_string(),
        &entry.actor,
        &entry.at,
        &entry.event,
        &entry.comment,
        &entry.state_hash,
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub entries: i64,
    pub problems: Vec<String>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks entries in `seq` order against each other and against the head.
pub fn verify(entries: &[Entry], head: (i64, &str)) -> Verification {
    let mut problems = Vec::new();
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    for entry in entries {
        if entry.seq != expected_seq {
            problems.push(format!(
                "entry {} is missing (found {} next)",
                expected_seq, entry.seq
            ));
            expected_seq = entry.seq;
        }
        if entry.prev_hash != prev {
            problems.push(format!(
                "entry {} does not follow the entry before it",
                entry.seq
            ));
        }
        let hash = entry_hash(&entry.prev_hash, entry);
        if hash != entry.hash {
            problems.push(format!(
                "entry {} was altered (filing {}, revision {})",
                entry.seq, entry.filing_id, entry.revision
            ));
        }
        prev = entry.hash.clone();
        expected_seq += 1;
    }
    let last = entries.last().map_or(0, |e| e.seq);
    if head.0 != last || head.1 != prev {
        problems.push(format!(
            "the chain ends at entry {last}, but its head records entry {}: entries were removed",
            head.0
        ));
    }
    Verification {
        entries: entries.len() as i64,
        problems,
    }
}
