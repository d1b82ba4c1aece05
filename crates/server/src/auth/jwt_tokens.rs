//! etcd's JWT tokens (`--auth-token jwt,sign-method=...,pub-key=...,priv-key=...,ttl=...`):
//! signed by the member that answered `Authenticate`, with the user, the auth revision and an
//! expiry as claims, and checked by any member holding the key. A token issued before an auth
//! change carries an old revision, so requests made with it are refused until the client
//! authenticates again. A member given only a public key checks tokens but issues none.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

/// The claims of an etcd JWT.
#[derive(serde::Serialize, serde::Deserialize)]
struct Claims {
    username: String,
    revision: u64,
    exp: u64,
}

/// How this member signs and checks JWTs.
pub(crate) struct JwtTokens {
    header: Header,
    signing: Option<EncodingKey>,
    checking: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

/// Why `--auth-token jwt,...` cannot be used, in etcd's words where etcd has them.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JwtSetupError {
    /// A missing or unknown `sign-method`.
    #[error("auth: invalid auth signature method")]
    Method,
    /// No key for the method.
    #[error("auth: missing key data")]
    MissingKey,
    /// The keys do not belong together.
    #[error("auth: public and private keys don't match")]
    Mismatch,
    /// A key file or the TTL could not be used.
    #[error("auth: invalid auth options ({0})")]
    Options(String),
    /// What etcd takes and oxcd does not, yet.
    #[error("--auth-token jwt: {0} is not supported yet")]
    Unsupported(&'static str),
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
        let method = options.get("sign-method").map(String::as_str);
        let algorithm = match method {
            Some("ES512") => return Err(JwtSetupError::Unsupported("sign-method ES512")),
            Some(name) => name
                .parse::<Algorithm>()
                .map_err(|_| JwtSetupError::Method)?,
            None => return Err(JwtSetupError::Method),
        };
        if algorithm == Algorithm::EdDSA {
            return Err(JwtSetupError::Method);
        }
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
        let bad_key = |e: jsonwebtoken::errors::Error| JwtSetupError::Options(e.to_string());
        let (signing, checking) = match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let secret = private.ok_or(JwtSetupError::MissingKey)?;
                (
                    Some(EncodingKey::from_secret(&secret).map_err(bad_key)?),
                    DecodingKey::from_secret(&secret).map_err(bad_key)?,
                )
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                let signing = private
                    .map(|k| EncodingKey::from_ec_pem(&k).map_err(bad_key))
                    .transpose()?;
                let public = public.ok_or(match signing {
                    Some(_) => JwtSetupError::Unsupported("priv-key without pub-key"),
                    None => JwtSetupError::MissingKey,
                })?;
                (signing, DecodingKey::from_ec_pem(&public).map_err(bad_key)?)
            }
            _ => {
                let signing = private
                    .map(|k| EncodingKey::from_rsa_pem(&k).map_err(bad_key))
                    .transpose()?;
                let public = public.ok_or(match signing {
                    Some(_) => JwtSetupError::Unsupported("priv-key without pub-key"),
                    None => JwtSetupError::MissingKey,
                })?;
                (
                    signing,
                    DecodingKey::from_rsa_pem(&public).map_err(bad_key)?,
                )
            }
        };
        let mut validation = Validation::new(algorithm);
        // jwt-go, which etcd uses, allows no leeway: a token is expired at its `exp`.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        let tokens = JwtTokens {
            header: Header::new(algorithm),
            signing,
            checking,
            validation,
            ttl,
        };
        if tokens.signing.is_some() {
            let probe = tokens.sign("probe", 0).map_err(JwtSetupError::Options)?;
            tokens.check(&probe).ok_or(JwtSetupError::Mismatch)?;
        }
        Ok(tokens)
    }

    /// A token for `user` at auth `revision`, expiring after the TTL; an error for a member
    /// given only a public key (etcd's "verify-only key" error).
    pub(crate) fn sign(&self, user: &str, revision: u64) -> Result<String, String> {
        let signing = self
            .signing
            .as_ref()
            .ok_or("auth: token signing attempted with verify-only key")?;
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
        jsonwebtoken::encode(&self.header, &claims, signing).map_err(|e| e.to_string())
    }

    /// Who holds `token`, if it is one of ours, signed with the configured method and not
    /// expired.
    pub(crate) fn check(&self, token: &str) -> Option<JwtHolder> {
        match jsonwebtoken::decode::<Claims>(token, &self.checking, &self.validation) {
            Ok(data) => Some(JwtHolder {
                user: data.claims.username,
                revision: data.claims.revision,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "failed to parse a JWT token");
                None
            }
        }
    }
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

    #[test]
    fn expired_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s").unwrap();
        let tokens = JwtTokens::new(&options(&[
            ("sign-method", "HS256"),
            ("priv-key", secret.to_str().unwrap()),
            ("ttl", "1s"),
        ]))
        .unwrap();
        let token = tokens.sign("alice", 1).unwrap();
        assert!(tokens.check(&token).is_some());
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(tokens.check(&token), None);
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
