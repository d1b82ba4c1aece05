//! ECDSA JWTs (`sign-method` ES256, ES384 and ES512), signed and checked with aws-lc-rs
//! directly: jsonwebtoken has no ES512 (P-521) and reads only PKCS#8 private keys, where etcd
//! (jwt-go) also reads SEC1 `EC PRIVATE KEY` files and, given only a private key, checks
//! tokens with its public half.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};

use super::claims::{Claims, JwtSetupError};

/// The JOSE header every token carries, as jwt-go writes it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

/// One ECDSA method's keys.
pub(super) struct EcdsaJwt {
    method: &'static str,
    /// `base64url(header)`, the first part of every token this member signs.
    encoded_header: String,
    signing: Option<EcdsaKeyPair>,
    checking: UnparsedPublicKey<Vec<u8>>,
    random: SystemRandom,
}

impl EcdsaJwt {
    /// `Ok(None)` when `method` is not an ECDSA one; else the keys read from the PEM files'
    /// contents (`private`, `public`: either or both).
    pub(super) fn new(
        method: &str,
        private: Option<&[u8]>,
        public: Option<&[u8]>,
    ) -> Result<Option<EcdsaJwt>, JwtSetupError> {
        let (method, signing_algorithm, checking_algorithm): (&'static str, _, _) = match method {
            "ES256" => (
                "ES256",
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &signature::ECDSA_P256_SHA256_FIXED,
            ),
            "ES384" => (
                "ES384",
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                &signature::ECDSA_P384_SHA384_FIXED,
            ),
            "ES512" => (
                "ES512",
                &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
                &signature::ECDSA_P521_SHA512_FIXED,
            ),
            _ => return Ok(None),
        };
        let bad_key = |what: &str| JwtSetupError::Options(format!("{what} is not a {method} key"));
        let signing = private
            .map(|pem| {
                let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| bad_key("priv-key"))?;
                EcdsaKeyPair::from_private_key_der(signing_algorithm, der.secret_der())
                    .map_err(|_| bad_key("priv-key"))
            })
            .transpose()?;
        let checking_key = match (public, &signing) {
            (Some(pem), _) => {
                let der =
                    SubjectPublicKeyInfoDer::from_pem_slice(pem).map_err(|_| bad_key("pub-key"))?;
                der.as_ref().to_vec()
            }
            (None, Some(signing)) => signing.public_key().as_ref().to_vec(),
            (None, None) => return Err(JwtSetupError::MissingKey),
        };
        let header = Header {
            alg: method.to_owned(),
            typ: "JWT".to_owned(),
        };
        let header =
            serde_json::to_vec(&header).map_err(|e| JwtSetupError::Options(e.to_string()))?;
        Ok(Some(EcdsaJwt {
            method,
            encoded_header: URL_SAFE_NO_PAD.encode(header),
            signing,
            checking: UnparsedPublicKey::new(checking_algorithm, checking_key),
            random: SystemRandom::new(),
        }))
    }

    /// Whether this member can issue tokens (it was given a private key).
    pub(super) fn can_sign(&self) -> bool {
        self.signing.is_some()
    }

    /// A signed token carrying `claims`; `None` without a private key.
    pub(super) fn sign(&self, claims: &Claims) -> Option<Result<String, String>> {
        let signing = self.signing.as_ref()?;
        Some(self.sign_with(signing, claims))
    }

    fn sign_with(&self, signing: &EcdsaKeyPair, claims: &Claims) -> Result<String, String> {
        let claims = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
        let signed = format!("{}.{}", self.encoded_header, URL_SAFE_NO_PAD.encode(claims));
        let signature = signing
            .sign(&self.random, signed.as_bytes())
            .map_err(|_| "auth: signing a token failed".to_owned())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The claims of `token` if it is signed with this method and key and not expired (no
    /// leeway, as jwt-go).
    pub(super) fn check(&self, token: &str) -> Result<Claims, &'static str> {
        let (signed, signature) = token.rsplit_once('.').ok_or("not a JWT")?;
        let (header, claims) = signed.split_once('.').ok_or("not a JWT")?;
        let header: Header = decode_part(header)?;
        if header.alg != self.method {
            return Err("signed with another method");
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "malformed signature")?;
        self.checking
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| "invalid signature")?;
        let claims: Claims = decode_part(claims)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if claims.exp < now {
            return Err("token is expired");
        }
        Ok(claims)
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, &'static str> {
    let json = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "malformed base64")?;
    serde_json::from_slice(&json).map_err(|_| "malformed JSON")
}
