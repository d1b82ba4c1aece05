//! `oxadm certs renew`: new member certificates (server and peer) installed on every host and
//! a new client certificate for oxadm, all from the cluster's certificate authority. Members
//! read certificate files again at the next handshake, so nothing restarts; a cluster whose
//! certificates already expired (and so cannot talk) works again as soon as they are renewed.
//! Then every member is dialled on its client and peer ports to see it serve the new ones.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use futures::future::join_all;
use tokio::net::TcpStream;

use crate::cluster_file::{ClusterFile, MemberEntry};
use crate::member_control::MemberOnHost;
use crate::member_files::MemberFiles;
use crate::pki::{TlsFiles, not_after};
use crate::up::install_member_certs;
use tokio_rustls::rustls::pki_types::ServerName;

/// Renews every certificate of `file`'s cluster but its authority's.
pub async fn renew(file: &ClusterFile, file_dir: &Path) -> Result<()> {
    let Some(tls) = &file.tls else {
        bail!(
            "the cluster runs without TLS (its cluster file has no `tls:`): there are no certificates to renew"
        );
    };
    let installs = join_all(file.members.iter().map(|member| async move {
        let on_host = MemberOnHost::new(file, member, file_dir);
        let dir = on_host.dir().await?;
        install_member_certs(
            tls,
            member,
            &on_host.host,
            &MemberFiles::at(Path::new(&dir)),
        )
        .await
        .with_context(|| format!("{} on {}", member.name, on_host.host.describe()))
    }))
    .await;
    let mut installed = Vec::new();
    let mut problems = Vec::new();
    for (member, result) in file.members.iter().zip(installs) {
        match result {
            Ok(certs) => installed.push((member, certs)),
            Err(error) => problems.push(format!("{error:#}")),
        }
    }
    if !problems.is_empty() {
        bail!(
            "renewing member certificates failed (the other members have new ones; run `oxadm certs renew` again once fixed):\n{}",
            problems.join("\n")
        );
    }
    tls.renew_client()?;
    let client_cert = std::fs::read_to_string(&tls.client_cert)?;
    println!(
        "new client certificate {} (valid until {})",
        tls.client_cert.display(),
        date(&der_of(&client_cert)?)?
    );
    let config = client_config(tls)?;
    for (member, certs) in installed {
        for (what, port, issued) in [
            ("clients", file.client_port_of(member), &certs.server_cert),
            ("peers", file.peer_port_of(member), &certs.peer_cert),
        ] {
            let served = served_certificate(&config, member, port)
                .await
                .with_context(|| {
                    format!("asking {} for its certificate for {what}", member.name)
                })?;
            if served != der_of(issued)? {
                bail!(
                    "{} still serves {what} its old certificate: see `oxadm logs {}`",
                    member.name,
                    member.name
                );
            }
            println!(
                "{}: serves {what} its new certificate (valid until {})",
                member.name,
                date(&served)?
            );
        }
    }
    Ok(())
}

/// The client configuration with oxadm's client certificate.
fn client_config(tls: &TlsFiles) -> Result<Arc<tokio_rustls::rustls::ClientConfig>> {
    let settings = oxcd_tls::ClientTlsSettings {
        ca_file: Some(tls.ca_cert.clone()),
        cert_file: Some(tls.client_cert.clone()),
        key_file: Some(tls.client_key.clone()),
        insecure_skip_verify: false,
    };
    oxcd_tls::client_config(&settings).map_err(|e| anyhow!("{e}"))
}

/// The certificate (DER) `member` serves on `port`, after a handshake that checked it.
async fn served_certificate(
    config: &Arc<tokio_rustls::rustls::ClientConfig>,
    member: &MemberEntry,
    port: u16,
) -> Result<Vec<u8>> {
    let tcp = TcpStream::connect((member.host.as_str(), port))
        .await
        .with_context(|| format!("connecting to {}:{port}", member.host))?;
    let name = ServerName::try_from(member.host.clone())
        .map_err(|_| anyhow!("{:?} is not a host name", member.host))?;
    let stream = tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS handshake with {}:{port}", member.host))?;
    let served = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .context("no certificate served")?;
    Ok(served.to_vec())
}

/// The DER of the certificate in PEM `text`.
fn der_of(text: &str) -> Result<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes())
        .map_err(|e| anyhow!("not a PEM certificate: {e}"))?;
    Ok(pem.contents)
}

/// The last day certificate `der` is valid, as `YYYY-MM-DD`.
fn date(der: &[u8]) -> Result<String> {
    Ok(not_after(der)?.date().to_string())
}
