//! Loopback ports for the components: a requested one must be free, the others are picked free.

use std::io;
use std::net::{Ipv4Addr, TcpListener};

use crate::component::Component;
use crate::error::ControlPlaneError;

/// The ports the control plane listens on, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ports {
    pub(crate) etcd_client: u16,
    pub(crate) etcd_peer: u16,
    pub(crate) apiserver: u16,
    pub(crate) controller_manager: u16,
    pub(crate) scheduler: u16,
}

impl Ports {
    /// Checks the requested ports are free and picks distinct free ones for the rest.
    pub(crate) fn reserve(
        etcd_client: Option<u16>,
        apiserver: Option<u16>,
    ) -> Result<Ports, ControlPlaneError> {
        let mut taken = Vec::new();
        let mut port = |component, requested| {
            let port = match requested {
                Some(port) => check_free(component, port)?,
                None => pick_free(component, &taken)?,
            };
            taken.push(port);
            Ok::<u16, ControlPlaneError>(port)
        };
        Ok(Ports {
            etcd_client: port(Component::Etcd, etcd_client)?,
            etcd_peer: port(Component::Etcd, None)?,
            apiserver: port(Component::KubeApiserver, apiserver)?,
            controller_manager: port(Component::KubeControllerManager, None)?,
            scheduler: port(Component::KubeScheduler, None)?,
        })
    }
}

fn check_free(component: Component, port: u16) -> Result<u16, ControlPlaneError> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => Ok(port),
        Err(source) => Err(ControlPlaneError::PortInUse {
            component,
            port,
            source,
        }),
    }
}

/// A port the kernel says is free now and that this control plane does not use yet.
fn pick_free(component: Component, taken: &[u16]) -> Result<u16, ControlPlaneError> {
    let mut last_error = io::Error::other("every port offered was already chosen");
    for _ in 0..32 {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|listener| listener.local_addr())
        {
            Ok(address) if !taken.contains(&address.port()) => return Ok(address.port()),
            Ok(_) => {}
            Err(error) => last_error = error,
        }
    }
    Err(ControlPlaneError::NoFreePort {
        component,
        source: last_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_ports_are_distinct() {
        let ports = Ports::reserve(None, None).unwrap();
        let mut all = vec![
            ports.etcd_client,
            ports.etcd_peer,
            ports.apiserver,
            ports.controller_manager,
            ports.scheduler,
        ];
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn a_taken_apiserver_port_names_kube_apiserver() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let error = Ports::reserve(None, Some(port)).unwrap_err();
        assert!(
            matches!(error, ControlPlaneError::PortInUse { component: Component::KubeApiserver, port: p, .. } if p == port),
            "{error}"
        );
    }
}
