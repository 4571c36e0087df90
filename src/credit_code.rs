//! The unified social credit code (统一社会信用代码, GB 32100-2015): the
//! eighteen characters by which every legal person and organisation in
//! China is known, and by which the registry finds an institution.
//!
//! Pure: text in, a checked code or the reason it is not one out.

use std::fmt;

/// The characters a code is written in: digits and the capital letters
/// but I, O, S, V and Z (GB 32100-2015, 4.2); each one's value is its place.
const CHARACTERS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weight of each of the first seventeen characters in the check sum.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A code's length.
pub const LENGTH: usize = 18;

/// A well-formed code, its check character verified.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CreditCode(String);

impl CreditCode {
    /// Reads a code as a person types or copies it: white space removed,
    /// full-width characters and lowercase letters taken as what they
    /// stand for.
    ///
    /// # Errors
    /// The reason in Chinese, for the applicant: the wrong length, a
    /// character codes never use, or a check character that does not
    /// match (a character mistyped).
    pub fn parse(text: &str) -> Result<CreditCode, String> {
        let folded = fold_typed(text).to_ascii_uppercase();
        let count = folded.chars().count();
        if count != LENGTH {
            return Err(format!("统一社会信用代码应为{LENGTH}位，填写的是{count}位"));
        }
        let mut sum = 0;
        let mut values = Vec::with_capacity(LENGTH);
        for character in folded.chars() {
            let Some(value) = CHARACTERS.find(character) else {
                return Err(format!(
                    "统一社会信用代码中不会出现“{character}”（不使用I、O、S、V、Z）"
                ));
            };
            values.push(value as u32);
        }
        for (value, weight) in values.iter().zip(WEIGHTS) {
            sum += value * weight;
        }
        let check = (31 - sum % 31) % 31;
        if values[LENGTH - 1] != check {
            return Err("统一社会信用代码的校验位不符，请核对是否有字符输错".to_string());
        }
        Ok(CreditCode(folded))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text as a person meant it when typing or copying an identifier: white
/// space (a PDF reader's, an input method's full-width space) removed,
/// full-width digits and letters made ASCII. The one rule for document
/// numbers and credit codes alike.
pub fn fold_typed(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            _ => c,
        })
        .collect()
}

/// A valid code for the first seventeen characters given: the check
/// character computed and appended. For sample data and tests.
///
/// # Panics
/// When `body` is not seventeen characters of the code's alphabet.
pub fn with_check(body: &str) -> CreditCode {
    let values: Vec<u32> = body
        .chars()
        .map(|c| CHARACTERS.find(c).expect("a code character") as u32)
        .collect();
    assert_eq!(values.len(), LENGTH - 1, "seventeen characters");
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = ((31 - sum % 31) % 31) as usize;
    let mut code = body.to_string();
    code.push(CHARACTERS.as_bytes()[check] as char);
    CreditCode(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_code_is_valid_and_one_changed_character_is_not() {
        // The example code of GB 32100-2015's annex.
        let code = CreditCode::parse("91350100M000100Y43").unwrap();
        assert_eq!(code.as_str(), "91350100M000100Y43");
        assert!(CreditCode::parse("91350100M000100Y44")
            .unwrap_err()
            .contains("校验位"));
        assert!(CreditCode::parse("91350100M00010")
            .unwrap_err()
            .contains("18位"));
        assert!(CreditCode::parse("91350100M000100O43")
            .unwrap_err()
            .contains("“O”"));
    }

    #[test]
    fn a_code_is_read_as_typed_or_copied() {
        let code = CreditCode::parse(" ９１350100m000100y43\u{3000}").unwrap();
        assert_eq!(code.as_str(), "91350100M000100Y43");
    }

    #[test]
    fn a_computed_check_character_parses() {
        let code = with_check("52440900MJL000001");
        assert_eq!(CreditCode::parse(code.as_str()), Ok(code));
    }
}
