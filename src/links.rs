//! Every URL the product prints — in mails, on documents' QR codes, in the
//! CLI — built in one place from the public base address, so the paths the
//! web application serves and the links people receive cannot drift.

/// The product's public addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    base: String,
}

impl Links {
    /// From the public base address, e.g. `https://yiyang.example.gov.cn`.
    pub fn new(base: &str) -> Links {
        Links {
            base: base.trim_end_matches('/').to_string(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A filing's page (the applicant's status page, a reviewer's review).
    pub fn filing(&self, id: &str) -> String {
        format!("{}/filings/{}", self.base, segment(id))
    }

    /// The page that opens a registered account (its mailed link).
    pub fn confirm_registration(&self, token: &str) -> String {
        format!("{}/register/confirm?token={}", self.base, segment(token))
    }

    /// The sign-in page.
    pub fn sign_in(&self) -> String {
        format!("{}/login", self.base)
    }

    /// The public verification page of a document, which its QR code carries.
    pub fn verify(&self, code: &str) -> String {
        format!("{}/verify/{}", self.base, segment(code))
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_built_from_the_base() {
        let links = Links::new("https://example.cn/");
        assert_eq!(links.filing("F-1"), "https://example.cn/filings/F-1");
        assert_eq!(links.verify("7F3A"), "https://example.cn/verify/7F3A");
        assert_eq!(
            links.filing("a/b 甲"),
            "https://example.cn/filings/a%2Fb%20%E7%94%B2"
        );
    }
}
