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

    /// Where people reach a server with no public address configured: the
    /// address it listens on (an unspecified one, `0.0.0.0`, as this
    /// machine's loopback, which is all that address promises).
    pub fn listening_on(addr: std::net::SocketAddr) -> Links {
        let host = match addr.ip() {
            ip if ip.is_unspecified() => "localhost".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            std::net::IpAddr::V4(ip) => ip.to_string(),
        };
        Links::new(&format!("http://{host}:{}", addr.port()))
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether only this machine can follow the links: a loopback host
    /// (`localhost`, 127.0.0.0/8, `::1`). Mail with such links reaches
    /// people who cannot open them.
    pub fn is_loopback(&self) -> bool {
        let rest = self
            .base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority
                .rsplit_once(':')
                .map_or(authority, |(host, _)| host),
        };
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
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
    fn a_server_without_a_public_address_links_to_where_it_listens() {
        let links = Links::listening_on("192.168.1.20:9000".parse().unwrap());
        assert_eq!(links.verify("AB"), "http://192.168.1.20:9000/verify/AB");
        assert!(!links.is_loopback());
        let links = Links::listening_on("0.0.0.0:8080".parse().unwrap());
        assert_eq!(links.base(), "http://localhost:8080");
        assert!(links.is_loopback());
        assert!(Links::listening_on("[::1]:8080".parse().unwrap()).is_loopback());
        assert!(Links::new("http://127.0.0.2:8080/").is_loopback());
        assert!(!Links::new("https://yiyang.maoming.gov.cn").is_loopback());
        assert!(!Links::new("https://localhost.example.cn").is_loopback());
    }

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
