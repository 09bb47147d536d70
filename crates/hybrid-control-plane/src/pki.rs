//! The control plane's own PKI, made with rcgen (ECDSA P-256): a cluster CA, kube-apiserver's
//! serving certificate, an admin client certificate (O=system:masters), the ServiceAccount
//! token key pair and a front-proxy CA with its client certificate.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::error::ControlPlaneError;

/// The files of the PKI, all PEM, in one folder.
#[derive(Debug, Clone)]
pub(crate) struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// The PKI whose files are (or will be) in `dir`.
    pub(crate) fn at(dir: &Path) -> Pki {
        Pki {
            dir: dir.to_path_buf(),
        }
    }
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    pub(crate) fn ca_cert(&self) -> PathBuf {
        self.file("ca.crt")
    }
    pub(crate) fn ca_key(&self) -> PathBuf {
        self.file("ca.key")
    }
    pub(crate) fn apiserver_cert(&self) -> PathBuf {
        self.file("apiserver.crt")
    }
    pub(crate) fn apiserver_key(&self) -> PathBuf {
        self.file("apiserver.key")
    }
    pub(crate) fn admin_cert(&self) -> PathBuf {
        self.file("admin.crt")
    }
    pub(crate) fn admin_key(&self) -> PathBuf {
        self.file("admin.key")
    }
    pub(crate) fn service_account_key(&self) -> PathBuf {
        self.file("sa.key")
    }
    pub(crate) fn service_account_pub(&self) -> PathBuf {
        self.file("sa.pub")
    }
    pub(crate) fn front_proxy_ca_cert(&self) -> PathBuf {
        self.file("front-proxy-ca.crt")
    }
    pub(crate) fn front_proxy_client_cert(&self) -> PathBuf {
        self.file("front-proxy-client.crt")
    }
    pub(crate) fn front_proxy_client_key(&self) -> PathBuf {
        self.file("front-proxy-client.key")
    }
}

/// The CN of the front-proxy client certificate (`--requestheader-allowed-names`).
pub(crate) const FRONT_PROXY_CLIENT_NAME: &str = "front-proxy-client";

/// Generates the PKI into `dir` (created). `advertise_address` joins the serving certificate's
/// names: 127.0.0.1, localhost, 10.96.0.1 and `kubernetes.default.svc(.cluster.local)`.
pub(crate) fn generate(dir: &Path, advertise_address: IpAddr) -> Result<Pki, ControlPlaneError> {
    std::fs::create_dir_all(dir).map_err(|source| ControlPlaneError::File {
        action: "create",
        path: dir.to_path_buf(),
        source,
    })?;
    let pki = Pki::at(dir);

    let (ca, ca_key) = new_ca("hybrid-e2e-ca", "cluster CA")?;
    write(&pki.ca_cert(), &ca.pem())?;
    write(&pki.ca_key(), &ca_key)?;

    let serving_names = vec![
        "127.0.0.1".to_string(),
        "10.96.0.1".to_string(),
        advertise_address.to_string(),
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        "kubernetes.default.svc.cluster.local".to_string(),
    ];
    let (cert, key) = new_leaf(
        &ca,
        "kube-apiserver",
        None,
        serving_names,
        ExtendedKeyUsagePurpose::ServerAuth,
        "kube-apiserver serving certificate",
    )?;
    write(&pki.apiserver_cert(), &cert)?;
    write(&pki.apiserver_key(), &key)?;

    let (cert, key) = new_leaf(
        &ca,
        "kubernetes-admin",
        Some("system:masters"),
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
        "admin client certificate",
    )?;
    write(&pki.admin_cert(), &cert)?;
    write(&pki.admin_key(), &key)?;

    let service_account = KeyPair::generate().map_err(|source| ControlPlaneError::Pki {
        what: "ServiceAccount key",
        source,
    })?;
    write(&pki.service_account_key(), &service_account.serialize_pem())?;
    write(
        &pki.service_account_pub(),
        &service_account.public_key_pem(),
    )?;

    let (front_proxy_ca, front_proxy_ca_key) = new_ca("front-proxy-ca", "front-proxy CA")?;
    write(&pki.front_proxy_ca_cert(), &front_proxy_ca.pem())?;
    write(&pki.file("front-proxy-ca.key"), &front_proxy_ca_key)?;
    let (cert, key) = new_leaf(
        &front_proxy_ca,
        FRONT_PROXY_CLIENT_NAME,
        None,
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
        "front-proxy client certificate",
    )?;
    write(&pki.front_proxy_client_cert(), &cert)?;
    write(&pki.front_proxy_client_key(), &key)?;
    Ok(pki)
}

/// A self-signed CA and its key's PEM.
fn new_ca(
    common_name: &str,
    what: &'static str,
) -> Result<(CertifiedIssuer<'static, KeyPair>, String), ControlPlaneError> {
    let pki_error = |source| ControlPlaneError::Pki { what, source };
    let key = KeyPair::generate().map_err(pki_error)?;
    let key_pem = key.serialize_pem();
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(params, key).map_err(pki_error)?;
    Ok((ca, key_pem))
}

/// A certificate signed by `issuer`: its PEM and its key's PEM.
fn new_leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    common_name: &str,
    organization: Option<&str>,
    subject_alt_names: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
    what: &'static str,
) -> Result<(String, String), ControlPlaneError> {
    let pki_error = |source| ControlPlaneError::Pki { what, source };
    let key = KeyPair::generate().map_err(pki_error)?;
    let mut params = CertificateParams::new(subject_alt_names).map_err(pki_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if let Some(organization) = organization {
        params
            .distinguished_name
            .push(DnType::OrganizationName, organization);
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).map_err(pki_error)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write(path: &Path, contents: &str) -> Result<(), ControlPlaneError> {
    std::fs::write(path, contents).map_err(|source| ControlPlaneError::File {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_flags_name_is_written_as_pem() {
        let dir = tempfile::tempdir().unwrap();
        let pki = generate(&dir.path().join("pki"), "10.240.0.2".parse().unwrap()).unwrap();
        for (path, header) in [
            (pki.ca_cert(), "-----BEGIN CERTIFICATE-----"),
            (pki.ca_key(), "-----BEGIN PRIVATE KEY-----"),
            (pki.apiserver_cert(), "-----BEGIN CERTIFICATE-----"),
            (pki.apiserver_key(), "-----BEGIN PRIVATE KEY-----"),
            (pki.admin_cert(), "-----BEGIN CERTIFICATE-----"),
            (pki.admin_key(), "-----BEGIN PRIVATE KEY-----"),
            (pki.service_account_key(), "-----BEGIN PRIVATE KEY-----"),
            (pki.service_account_pub(), "-----BEGIN PUBLIC KEY-----"),
            (pki.front_proxy_ca_cert(), "-----BEGIN CERTIFICATE-----"),
            (pki.front_proxy_client_cert(), "-----BEGIN CERTIFICATE-----"),
            (pki.front_proxy_client_key(), "-----BEGIN PRIVATE KEY-----"),
        ] {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with(header), "{}: {text}", path.display());
        }
    }

    /// `openssl x509 -noout <args>` on `cert`, or `None` without openssl.
    fn openssl_x509(cert: &Path, args: &[&str]) -> Option<String> {
        let output = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-in"])
            .arg(cert)
            .args(args)
            .output()
            .ok()?;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    #[test]
    fn the_serving_certificate_names_loopback_the_service_ip_and_the_service_dns_names() {
        let dir = tempfile::tempdir().unwrap();
        let pki = generate(dir.path(), "10.240.0.2".parse().unwrap()).unwrap();
        let Some(names) = openssl_x509(&pki.apiserver_cert(), &["-ext", "subjectAltName"]) else {
            println!("skipped: no openssl to read the certificate");
            return;
        };
        for name in [
            "IP Address:127.0.0.1",
            "IP Address:10.96.0.1",
            "IP Address:10.240.0.2",
            "DNS:localhost",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
        ] {
            assert!(names.contains(name), "{name} missing from {names}");
        }
        let issuer = openssl_x509(&pki.apiserver_cert(), &["-issuer"]).unwrap();
        assert!(issuer.contains("CN = hybrid-e2e-ca"), "{issuer}");
    }

    #[test]
    fn the_admin_is_a_client_in_system_masters() {
        let dir = tempfile::tempdir().unwrap();
        let pki = generate(dir.path(), "10.240.0.2".parse().unwrap()).unwrap();
        let Some(text) = openssl_x509(&pki.admin_cert(), &["-subject", "-ext", "extendedKeyUsage"])
        else {
            println!("skipped: no openssl to read the certificate");
            return;
        };
        assert!(text.contains("O = system:masters"), "{text}");
        assert!(text.contains("TLS Web Client Authentication"), "{text}");
    }
}
