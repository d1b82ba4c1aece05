//! `--cipher-suites`: Go's cipher suite names mapped to rustls' suites. Go knows more suites than
//! rustls implements (CBC, RC4, 3DES and RSA key exchange); those are refused by name rather
//! than dropped silently. As in Go, the list restricts TLS 1.2 only: TLS 1.3's suites cannot be
//! configured, so their names are accepted and change nothing.

use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES;
use rustls::{CipherSuite, SupportedCipherSuite};

/// The names Go's `tls.CipherSuites()` and `tls.InsecureCipherSuites()` know (and etcd's two
/// aliases), with the rustls TLS 1.2 suite each stands for where rustls has it.
const GO_SUITES: &[(&str, GoSuite)] = &[
    ("TLS_RSA_WITH_RC4_128_SHA", GoSuite::Unsupported),
    ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", GoSuite::Unsupported),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", GoSuite::Unsupported),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", GoSuite::Unsupported),
    ("TLS_RSA_WITH_AES_128_CBC_SHA256", GoSuite::Unsupported),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", GoSuite::Unsupported),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", GoSuite::Unsupported),
    ("TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", GoSuite::Unsupported),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", GoSuite::Unsupported),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", GoSuite::Unsupported),
    ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", GoSuite::Unsupported),
    ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", GoSuite::Unsupported),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", GoSuite::Unsupported),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", GoSuite::Unsupported),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        GoSuite::Unsupported,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        GoSuite::Unsupported,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        GoSuite::Tls12(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        GoSuite::Tls12(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        GoSuite::Tls12(CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        GoSuite::Tls12(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        GoSuite::Tls12(CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        GoSuite::Tls12(CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        GoSuite::Tls12(CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        GoSuite::Tls12(CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
    ("TLS_AES_128_GCM_SHA256", GoSuite::Tls13),
    ("TLS_AES_256_GCM_SHA384", GoSuite::Tls13),
    ("TLS_CHACHA20_POLY1305_SHA256", GoSuite::Tls13),
];

#[derive(Clone, Copy)]
enum GoSuite {
    /// A TLS 1.2 suite rustls implements.
    Tls12(CipherSuite),
    /// A TLS 1.3 suite: always on, as in Go.
    Tls13,
    /// Known to Go, not implemented by rustls.
    Unsupported,
}

/// The TLS 1.2 suites `names` (Go's names, in preference order) stand for, `None` (no
/// restriction) when no name is given; an error, in etcd's words for a name Go does not know,
/// for a name that cannot be honoured.
pub fn cipher_suites(names: &[String]) -> Result<Option<Vec<SupportedCipherSuite>>, String> {
    if names.iter().all(String::is_empty) {
        return Ok(None);
    }
    let mut suites = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        let Some((_, suite)) = GO_SUITES.iter().find(|(go, _)| go == name) else {
            return Err(format!("unexpected TLS cipher suite {name:?}"));
        };
        match suite {
            GoSuite::Tls12(id) => {
                let found = ALL_CIPHER_SUITES
                    .iter()
                    .find(|s| s.suite() == *id && s.tls13().is_none())
                    .copied()
                    .ok_or_else(|| unsupported(name))?;
                if !suites.contains(&found) {
                    suites.push(found);
                }
            }
            GoSuite::Tls13 => {}
            GoSuite::Unsupported => return Err(unsupported(name)),
        }
    }
    Ok(Some(suites))
}

fn unsupported(name: &str) -> String {
    format!(
        "TLS cipher suite {name:?} is not supported by oxcd: its TLS library offers only ECDHE key exchange with AES-GCM or ChaCha20-Poly1305"
    )
}

/// The aws-lc-rs provider limited to `tls12` (all of TLS 1.2 when `None`) plus every TLS 1.3
/// suite.
pub(crate) fn provider_with(tls12: Option<&[SupportedCipherSuite]>) -> CryptoProvider {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(tls12) = tls12 {
        provider.cipher_suites.retain(|s| s.tls13().is_some());
        provider.cipher_suites.extend_from_slice(tls12);
    }
    provider
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls13_count() -> usize {
        ALL_CIPHER_SUITES
            .iter()
            .filter(|s| s.tls13().is_some())
            .count()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn go_names_map_to_rustls_suites() {
        let suites = cipher_suites(&names(&[
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
            "TLS_AES_128_GCM_SHA256",
        ]))
        .unwrap()
        .unwrap();
        let ids: Vec<CipherSuite> = suites.iter().map(|s| s.suite()).collect();
        assert_eq!(
            ids,
            vec![
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            ]
        );
        let provider = provider_with(Some(&suites));
        assert_eq!(provider.cipher_suites.len(), tls13_count() + 2);
        assert!(cipher_suites(&[]).unwrap().is_none());
        let only_tls13 = cipher_suites(&names(&["TLS_AES_256_GCM_SHA384"]))
            .unwrap()
            .unwrap();
        let provider = provider_with(Some(&only_tls13));
        assert_eq!(provider.cipher_suites.len(), tls13_count());
    }

    #[test]
    fn unknown_and_unsupported_names_are_refused() {
        assert_eq!(
            cipher_suites(&names(&["TLS_BOGUS"])).unwrap_err(),
            r#"unexpected TLS cipher suite "TLS_BOGUS""#
        );
        let err = cipher_suites(&names(&["TLS_RSA_WITH_AES_128_CBC_SHA"])).unwrap_err();
        assert!(
            err.starts_with(r#"TLS cipher suite "TLS_RSA_WITH_AES_128_CBC_SHA" is not supported"#),
            "{err}"
        );
    }
}
