//! The kubelets' serving certificate: one self-signed certificate (rcgen, ECDSA P-256) for every
//! node, with IP SANs for the node InternalIPs and DNS SANs for the node names, as a rustls
//! `ServerConfig` on the `ring` provider (no process-wide default provider needed) with ALPN
//! `http/1.1` only, since exec's WebSocket upgrade needs HTTP/1.1. A real kubelet without a
//! signed certificate serves a self-signed one too; the API server does not verify it unless
//! it is given `--kubelet-certificate-authority`.

use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

use crate::config::SimConfig;
use crate::controllers::nodes::node_specs;
use crate::network::node_ip;

/// Node indexes whose InternalIP is in the certificate whatever the configuration
/// (10.240.0.10 to 10.240.0.40).
const ALWAYS_COVERED_NODES: usize = 31;

/// Why no serving certificate could be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsSetupError {
    /// rcgen could not generate the key or certificate.
    #[error("cannot generate the kubelet serving certificate")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the certificate or the protocol versions.
    #[error("cannot build the kubelet TLS configuration")]
    Config(#[from] rustls::Error),
}

impl From<TlsSetupError> for std::io::Error {
    fn from(err: TlsSetupError) -> Self {
        std::io::Error::other(err)
    }
}

/// The names a kubelet serving certificate covers: node InternalIPs, then node names.
fn subject_alt_names(config: &SimConfig) -> Vec<String> {
    let specs = node_specs(config);
    let nodes = specs.len().max(ALWAYS_COVERED_NODES);
    (0..nodes)
        .map(node_ip)
        .chain(specs.into_iter().map(|s| s.name))
        .collect()
}

/// A TLS server configuration for the kubelet API of every node of `config`.
pub(crate) fn kubelet_server_config(
    config: &SimConfig,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(subject_alt_names(config))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hybrid-e2e-sim-kubelet");
    let cert = params.self_signed(&key)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_ip_and_name_is_covered() {
        let config = SimConfig {
            linux_nodes: 40,
            ..SimConfig::default()
        };
        let names = subject_alt_names(&config);
        assert!(names.contains(&"10.240.0.10".to_string()));
        assert!(names.contains(&"10.240.0.51".to_string()), "{names:?}");
        assert!(names.contains(&"linux-node-40".to_string()));
        assert!(names.contains(&"windows-node-2".to_string()));
        let small = subject_alt_names(&SimConfig::default());
        assert!(small.contains(&"10.240.0.40".to_string()));
        assert!(!small.contains(&"10.240.0.41".to_string()));
    }

    #[test]
    fn the_config_offers_only_http1() {
        let server = kubelet_server_config(&SimConfig::default()).unwrap();
        assert_eq!(server.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
