//! etcd's JWT tokens (`--auth-token jwt,sign-method=...,pub-key=...,priv-key=...,ttl=...`):
//! signed by the member that answered `Authenticate`, with the user, the auth revision and an
//! expiry as claims, and checked by any member holding the key. A token issued before an auth
//! change carries an old revision, so requests made with it are refused until the client
//! authenticates again. A member given only a public key checks tokens but issues none; one
//! given only a private key checks with its public half, as etcd. HMAC and RSA methods go
//! through jsonwebtoken, ECDSA ones through [`EcdsaJwt`] (`ecdsa.rs`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::KeyPair;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

mod claims;
mod ecdsa;

use claims::Claims;
pub(crate) use claims::JwtSetupError;
use ecdsa::EcdsaJwt;

/// How this member signs and checks JWTs.
pub(crate) struct JwtTokens {
    keys: Keys,
    ttl: Duration,
}

/// The keys of the configured method.
enum Keys {
    /// HMAC and RSA methods.
    Library(Box<LibraryKeys>),
    /// ECDSA methods.
    Ecdsa(EcdsaJwt),
}

/// Keys of a method jsonwebtoken implements.
struct LibraryKeys {
    header: Header,
    signing: Option<EncodingKey>,
    checking: DecodingKey,
    validation: Validation,
}

/// What a JWT says of its holder.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct JwtHolder {
    /// The user.
    pub(crate) user: String,
    /// The auth revision the token was issued at.
    pub(crate) revision: u64,
}

impl JwtTokens {
    /// Sets up from the options after `jwt,` (`sign-method`, `pub-key`, `priv-key`, `ttl`).
    pub(crate) fn new(
        options: &std::collections::HashMap<String, String>,
    ) -> Result<JwtTokens, JwtSetupError> {
        let method = options
            .get("sign-method")
            .map(String::as_str)
            .ok_or(JwtSetupError::Method)?;
        let ttl = match options.get("ttl").filter(|t| !t.is_empty()) {
            Some(text) => oxcd_etcd_compat::gotext::duration::parse(text)
                .map_err(|e| JwtSetupError::Options(format!("ttl: {e}")))?,
            None => Duration::from_secs(5 * 60),
        };
        let read = |option: &str| -> Result<Option<Vec<u8>>, JwtSetupError> {
            match options.get(option).filter(|p| !p.is_empty()) {
                Some(path) => std::fs::read(path)
                    .map(Some)
                    .map_err(|e| JwtSetupError::Options(format!("open {path}: {e}"))),
                None => Ok(None),
            }
        };
        let (private, public) = (read("priv-key")?, read("pub-key")?);
        let keys = match EcdsaJwt::new(method, private.as_deref(), public.as_deref())? {
            Some(ecdsa) => Keys::Ecdsa(ecdsa),
            None => Keys::Library(Box::new(LibraryKeys::new(method, private, public)?)),
        };
        let tokens = JwtTokens { keys, ttl };
        if tokens.can_sign() {
            let probe = tokens.sign("probe", 0).map_err(JwtSetupError::Options)?;
            tokens.check(&probe).ok_or(JwtSetupError::Mismatch)?;
        }
        Ok(tokens)
    }

    fn can_sign(&self) -> bool {
        match &self.keys {
            Keys::Library(keys) => keys.signing.is_some(),
            Keys::Ecdsa(keys) => keys.can_sign(),
        }
    }

    /// A token for `user` at auth `revision`, expiring after the TTL; an error for a member
    /// given only a public key (etcd's "verify-only key" error).
    pub(crate) fn sign(&self, user: &str, revision: u64) -> Result<String, String> {
        const VERIFY_ONLY: &str = "auth: token signing attempted with verify-only key";
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(self.ttl)
            .as_secs();
        let claims = Claims {
            username: user.to_string(),
            revision,
            exp,
        };
        match &self.keys {
            Keys::Library(keys) => {
                let signing = keys.signing.as_ref().ok_or(VERIFY_ONLY)?;
                jsonwebtoken::encode(&keys.header, &claims, signing).map_err(|e| e.to_string())
            }
            Keys::Ecdsa(keys) => keys.sign(&claims).unwrap_or(Err(VERIFY_ONLY.to_owned())),
        }
    }

    /// Who holds `token`, if it is one of ours, signed with the configured method and not
    /// expired.
    pub(crate) fn check(&self, token: &str) -> Option<JwtHolder> {
        let claims = match &self.keys {
            Keys::Library(keys) => {
                jsonwebtoken::decode::<Claims>(token, &keys.checking, &keys.validation)
                    .map(|data| data.claims)
                    .map_err(|e| e.to_string())
            }
            Keys::Ecdsa(keys) => keys.check(token).map_err(str::to_owned),
        };
        match claims {
            Ok(claims) => Some(JwtHolder {
                user: claims.username,
                revision: claims.revision,
            }),
            Err(error) => {
                tracing::warn!(%error, "failed to parse a JWT token");
                None
            }
        }
    }
}

impl LibraryKeys {
    fn new(
        method: &str,
        private: Option<Vec<u8>>,
        public: Option<Vec<u8>>,
    ) -> Result<LibraryKeys, JwtSetupError> {
        let algorithm = method
            .parse::<Algorithm>()
            .map_err(|_| JwtSetupError::Method)?;
        let bad_key = |e: jsonwebtoken::errors::Error| JwtSetupError::Options(e.to_string());
        let (signing, checking) = match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let secret = private.ok_or(JwtSetupError::MissingKey)?;
                (
                    Some(EncodingKey::from_secret(&secret).map_err(bad_key)?),
                    DecodingKey::from_secret(&secret).map_err(bad_key)?,
                )
            }
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => {
                let signing = private
                    .as_deref()
                    .map(|k| EncodingKey::from_rsa_pem(k).map_err(bad_key))
                    .transpose()?;
                let checking = match (public, private) {
                    (Some(public), _) => DecodingKey::from_rsa_pem(&public).map_err(bad_key)?,
                    (None, Some(private)) => rsa_public_half(&private)?,
                    (None, None) => return Err(JwtSetupError::MissingKey),
                };
                (signing, checking)
            }
            // EdDSA: etcd 3.5's key loader has no case for it either.
            _ => return Err(JwtSetupError::Method),
        };
        let mut validation = Validation::new(algorithm);
        // jwt-go, which etcd uses, allows no leeway: a token is expired at its `exp`.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        Ok(LibraryKeys {
            header: Header::new(algorithm),
            signing,
            checking,
            validation,
        })
    }
}

/// The public key of an RSA private key file (PKCS#1 or PKCS#8).
fn rsa_public_half(private_pem: &[u8]) -> Result<DecodingKey, JwtSetupError> {
    let bad_key = || JwtSetupError::Options("priv-key is not an RSA private key".to_owned());
    let key_pair = match PrivateKeyDer::from_pem_slice(private_pem).map_err(|_| bad_key())? {
        PrivateKeyDer::Pkcs1(der) => aws_lc_rs::rsa::KeyPair::from_der(der.secret_pkcs1_der()),
        PrivateKeyDer::Pkcs8(der) => aws_lc_rs::rsa::KeyPair::from_pkcs8(der.secret_pkcs8_der()),
        _ => return Err(bad_key()),
    }
    .map_err(|_| bad_key())?;
    Ok(DecodingKey::from_rsa_der(key_pair.public_key().as_ref()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hmac_tokens_round_trip_and_foreign_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "a shared secret").unwrap();
        let path = secret.to_str().unwrap();
        let tokens =
            JwtTokens::new(&options(&[("sign-method", "HS256"), ("priv-key", path)])).unwrap();
        let token = tokens.sign("alice", 7).unwrap();
        assert_eq!(
            tokens.check(&token),
            Some(JwtHolder {
                user: "alice".into(),
                revision: 7
            })
        );
        std::fs::write(&secret, "another secret").unwrap();
        let other =
            JwtTokens::new(&options(&[("sign-method", "HS256"), ("priv-key", path)])).unwrap();
        assert_eq!(other.check(&token), None);
        assert_eq!(tokens.check("not.a.token"), None);
        let hs512 =
            JwtTokens::new(&options(&[("sign-method", "HS512"), ("priv-key", path)])).unwrap();
        assert_eq!(hs512.check(&token), None, "another method is refused");
    }

    /// PEM text of `der` under `label`, wrapped at 64 columns as openssl writes it.
    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    /// Key files of a fresh ECDSA key: (SEC1 private key, PKCS#8 private key, public key).
    fn ec_key_files(
        dir: &std::path::Path,
        algorithm: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm,
    ) -> (String, String, String) {
        use aws_lc_rs::encoding::AsDer;
        let key = aws_lc_rs::signature::EcdsaKeyPair::generate(algorithm).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let sec1 = key.private_key().as_der().unwrap();
        let public = key.public_key().as_der().unwrap();
        (
            write("ec.sec1", pem("EC PRIVATE KEY", sec1.as_ref())),
            write(
                "ec.pkcs8",
                pem("PRIVATE KEY", key.to_pkcs8v1().unwrap().as_ref()),
            ),
            write("ec.pub", pem("PUBLIC KEY", public.as_ref())),
        )
    }

    #[test]
    fn es512_tokens_round_trip_from_either_private_key_format() {
        let dir = tempfile::tempdir().unwrap();
        let (sec1, pkcs8, public) = ec_key_files(
            dir.path(),
            &aws_lc_rs::signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        );
        for private in [&sec1, &pkcs8] {
            let tokens = JwtTokens::new(&options(&[
                ("sign-method", "ES512"),
                ("priv-key", private),
                ("pub-key", &public),
            ]))
            .unwrap();
            let token = tokens.sign("alice", 3).unwrap();
            let holder = JwtHolder {
                user: "alice".into(),
                revision: 3,
            };
            assert_eq!(tokens.check(&token), Some(holder));
            // A member given only the public key checks the token but issues none.
            let checker =
                JwtTokens::new(&options(&[("sign-method", "ES512"), ("pub-key", &public)]))
                    .unwrap();
            assert!(checker.check(&token).is_some());
            assert!(
                checker
                    .sign("alice", 3)
                    .unwrap_err()
                    .contains("verify-only")
            );
            // A changed claim breaks the signature.
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            parts[1] = parts[1].replace('a', "b");
            assert_eq!(tokens.check(&parts.join(".")), None);
        }
    }

    #[test]
    fn a_private_key_alone_checks_with_its_public_half() {
        use aws_lc_rs::encoding::AsDer;
        let dir = tempfile::tempdir().unwrap();
        let (sec1, ..) = ec_key_files(
            dir.path(),
            &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        );
        let ec =
            JwtTokens::new(&options(&[("sign-method", "ES384"), ("priv-key", &sec1)])).unwrap();
        assert!(ec.check(&ec.sign("bob", 9).unwrap()).is_some());

        let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rsa_file = dir.path().join("rsa.pkcs8");
        std::fs::write(
            &rsa_file,
            pem("PRIVATE KEY", rsa.as_der().unwrap().as_ref()),
        )
        .unwrap();
        let rsa_path = rsa_file.to_str().unwrap();
        for method in ["RS256", "PS512"] {
            let tokens =
                JwtTokens::new(&options(&[("sign-method", method), ("priv-key", rsa_path)]))
                    .unwrap();
            let token = tokens.sign("bob", 9).unwrap();
            assert!(tokens.check(&token).is_some(), "{method}");
            assert_eq!(
                ec.check(&token),
                None,
                "an ES384 member refuses a {method} token"
            );
        }
    }

    #[test]
    fn ecdsa_keys_of_another_curve_or_pair_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = tempfile::tempdir().unwrap();
        let (p256, ..) = ec_key_files(
            dir.path(),
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        );
        let (_, _, other_public) = ec_key_files(
            first.path(),
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        );
        let err = |o: &[(&str, &str)]| JwtTokens::new(&options(o)).err().unwrap().to_string();
        assert_eq!(
            err(&[("sign-method", "ES512"), ("priv-key", &p256)]),
            "auth: invalid auth options (priv-key is not a ES512 key)"
        );
        assert_eq!(
            err(&[
                ("sign-method", "ES256"),
                ("priv-key", &p256),
                ("pub-key", &other_public)
            ]),
            "auth: public and private keys don't match"
        );
        assert_eq!(err(&[("sign-method", "ES256")]), "auth: missing key data");
        assert_eq!(
            err(&[("sign-method", "EdDSA")]),
            "auth: invalid auth signature method"
        );
    }

    #[test]
    fn expired_tokens_are_refused_by_either_implementation() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s").unwrap();
        let (sec1, ..) = ec_key_files(
            dir.path(),
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        );
        let setups = [
            ("HS256", secret.to_str().unwrap()),
            ("ES256", sec1.as_str()),
        ];
        let tokens: Vec<(JwtTokens, String)> = setups
            .iter()
            .map(|(method, key)| {
                let options = options(&[("sign-method", method), ("priv-key", key), ("ttl", "1s")]);
                let tokens = JwtTokens::new(&options).unwrap();
                let token = tokens.sign("alice", 1).unwrap();
                assert!(tokens.check(&token).is_some(), "{method}");
                (tokens, token)
            })
            .collect();
        std::thread::sleep(Duration::from_millis(2100));
        for (tokens, token) in &tokens {
            assert_eq!(tokens.check(token), None);
        }
    }

    #[test]
    fn bad_options_get_etcds_errors() {
        let err = |o: &[(&str, &str)]| JwtTokens::new(&options(o)).err().unwrap().to_string();
        assert_eq!(err(&[]), "auth: invalid auth signature method");
        assert_eq!(
            err(&[("sign-method", "XX256")]),
            "auth: invalid auth signature method"
        );
        assert_eq!(err(&[("sign-method", "RS256")]), "auth: missing key data");
        assert_eq!(err(&[("sign-method", "HS256")]), "auth: missing key data");
        assert!(err(&[("sign-method", "RS256"), ("pub-key", "/nonexistent")]).contains("open"));
    }
}
