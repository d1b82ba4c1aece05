//! The TLS configuration this member dials its peers with, from the `--peer-*` TLS flags read
//! as etcd's peer transport reads them (`TLSInfo.ClientConfig`): the peers' certificates must
//! chain to `--peer-trusted-ca-file` (the system's roots without it), and the member presents
//! `--peer-client-cert-file`/`--peer-client-key-file` when set, else
//! `--peer-cert-file`/`--peer-key-file`. With `--peer-auto-tls` and no certificate files,
//! peers' certificates are not verified, as etcd does with its self-signed ones (etcd then
//! also drops the other peer TLS settings); the generated certificate is not presented, since
//! generating it is the listener side's work.

use std::sync::Arc;

use oxcd_etcd_compat::config::TlsConfig;

/// The peer dialling configuration of `tls`, or `None` when the member has no peer TLS
/// settings; the error is etcd's message for the same settings.
pub(crate) fn peer_dial_tls(tls: &TlsConfig) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
    let has_cert = tls.cert_file.is_some() || tls.key_file.is_some();
    if tls.auto_tls && !has_cert {
        let settings = oxcd_tls::ClientTlsSettings {
            insecure_skip_verify: true,
            ..oxcd_tls::ClientTlsSettings::default()
        };
        return oxcd_tls::client_config(&settings)
            .map(Some)
            .map_err(|e| e.to_string());
    }
    if !has_cert && tls.trusted_ca_file.is_none() {
        return Ok(None);
    }
    if tls.client_cert_file.is_some() != tls.client_key_file.is_some() {
        return Err(format!(
            "ClientKeyFile and ClientCertFile must both be present or both absent: key: {}, cert: {}]",
            display(tls.client_key_file.as_deref()),
            display(tls.client_cert_file.as_deref())
        ));
    }
    // Without a serving certificate etcd presents nothing, whatever the client files say.
    let (cert_file, key_file) = if !has_cert {
        (None, None)
    } else if tls.client_cert_file.is_some() {
        (tls.client_cert_file.clone(), tls.client_key_file.clone())
    } else {
        (tls.cert_file.clone(), tls.key_file.clone())
    };
    let settings = oxcd_tls::ClientTlsSettings {
        ca_file: tls.trusted_ca_file.clone(),
        cert_file,
        key_file,
        insecure_skip_verify: false,
    };
    oxcd_tls::client_config(&settings)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn display(path: Option<&std::path::Path>) -> String {
    path.map(|p| p.display().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_peer_tls_settings_dial_with_the_defaults() {
        assert!(peer_dial_tls(&TlsConfig::default()).unwrap().is_none());
    }

    #[test]
    fn unusable_settings_get_etcds_messages() {
        let half = TlsConfig {
            cert_file: Some("/p.pem".into()),
            key_file: Some("/p-key.pem".into()),
            client_cert_file: Some("/c.pem".into()),
            ..TlsConfig::default()
        };
        assert_eq!(
            peer_dial_tls(&half).unwrap_err(),
            "ClientKeyFile and ClientCertFile must both be present or both absent: key: , cert: /c.pem]"
        );
        let missing = TlsConfig {
            trusted_ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsConfig::default()
        };
        assert_eq!(
            peer_dial_tls(&missing).unwrap_err(),
            "open /nonexistent/ca.pem: no such file or directory"
        );
        let auto = TlsConfig {
            auto_tls: true,
            ..TlsConfig::default()
        };
        assert!(peer_dial_tls(&auto).unwrap().is_some());
    }
}
