//! Document numbers and verification codes: what makes an issued document
//! findable and checkable by anyone.
//!
//! A number comes from the outcome's pattern (`医养{year}{dept}{seq:05}`) and
//! a gapless sequence per pattern, issuing department and year; the store
//! keeps the sequence, this module says what it is keyed by and how the
//! number reads. The verification code is derived from the audit entry
//! that issued the document, so it cannot be guessed from the number.

use crate::dsl::ir::{NumberPattern, Workflow};

/// A gapless sequence: one per pattern and department, restarting each year.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Series {
    /// The pattern's source and the department's abbreviation.
    pub scope: String,
    pub year: i16,
    abbr: String,
}

impl Series {
    /// The series a document of `pattern` issued by `department` in `year` is numbered in.
    pub fn of(workflow: &Workflow, pattern: &NumberPattern, department: &str, year: i16) -> Series {
        let abbr = workflow
            .department(department)
            .and_then(|d| d.abbr.clone())
            .unwrap_or_default();
        Series {
            scope: format!("{}|{abbr}", pattern.source),
            year,
            abbr,
        }
    }

    /// The number printed on the `seq`th document of the series.
    pub fn number(&self, pattern: &NumberPattern, seq: u64) -> String {
        pattern.format(self.year, &self.abbr, seq)
    }
}

/// Length of a verification code, in hexadecimal digits.
pub const CODE_LENGTH: usize = 16;

/// The verification code of the `index`th document an audit entry issued
/// for an outcome: upper-case hexadecimal, from the entry's hash.
pub fn verification_code(entry_hash: &str, outcome: usize, index: usize) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{entry_hash}|{outcome}|{index}").as_bytes());
    hex::encode(digest)[..CODE_LENGTH].to_uppercase()
}

/// A code as a person typed it: trimmed and upper-cased, so `7f3a…` finds `7F3A…`.
pub fn normalize_code(code: &str) -> String {
    normalize_number(code).to_ascii_uppercase()
}

/// A document number as a person types or copies it: white space removed
/// (a PDF reader copies "医养 2026 卫 00002" for 医养2026卫00002; numbers
/// hold none) and full-width digits and letters made ASCII, as an input
/// method may type them.
pub fn normalize_number(number: &str) -> String {
    crate::credit_code::fold_typed(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        let code = verification_code("abc", 0, 0);
        assert_eq!(code.len(), CODE_LENGTH);
        assert_eq!(code, verification_code("abc", 0, 0));
        assert_ne!(code, verification_code("abc", 0, 1));
        assert_eq!(normalize_code(&format!(" {} ", code.to_lowercase())), code);
    }

    #[test]
    fn numbers_are_found_as_copied_or_typed() {
        for typed in [
            "医养 2026 卫 00002",
            "医养２０２６卫０００02",
            " 医养2026卫00002\u{3000}",
        ] {
            assert_eq!(normalize_number(typed), "医养2026卫00002", "{typed}");
        }
        assert_eq!(normalize_code("ab 12 ＣＤ"), "AB12CD");
    }
}
