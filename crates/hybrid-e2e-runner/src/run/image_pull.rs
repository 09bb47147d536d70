//! Image pull failures: which ones are permanent (waiting longer cannot help) and which are
//! transient (the kubelet retries with back-off and the pull may still succeed).
//!
//! The kubelet reports a failed pull as a container waiting with reason `ErrImagePull` and the
//! runtime's error as its message, then `ImagePullBackOff` with `Back-off pulling image "..."`
//! (newer kubelets append `: ErrImagePull: <the previous error>`, kubernetes/kubernetes
//! `pkg/kubelet/images/image_manager.go`). Only the message says why. Texts seen on real
//! clusters (containerd's CRI, wrapped by the kubelet's `rpc error: code = ... desc = ...`):
//!
//! - permanent: `failed to pull and unpack image "docker.io/salesforce/salesforcedx:latest":
//!   failed to resolve reference "...": docker.io/salesforce/salesforcedx:latest: not found`
//!   (forcedotcom/salesforcedx-docker#35); `failed to pull and unpack image
//!   "mcr.microsoft.com/windows/servercore:ltsc2019": no match for platform in manifest: not
//!   found` (containerd/containerd#6989); `... failed with status code [manifests ...]: 401
//!   Unauthorized` (kubernetes/kubernetes#110678); `pull access denied, repository does not
//!   exist or may require authorization: server message: insufficient_scope: authorization
//!   failed` (pfnet/image-pull-secrets-provisioner#31); `manifest for ... not found: manifest
//!   unknown: manifest unknown` (lachie83/k8s-kubectl#157);
//! - transient: `rpc error: code = DeadlineExceeded desc = failed to pull and unpack image
//!   "registry.k8s.io/ingress-nginx/controller:v1.11.2": failed to resolve reference "...":
//!   failed to do request: Head "https://...": dial tcp 74.125.203.82:443: i/o timeout`
//!   (ciiiii/cloudflare-docker-proxy#85); `... dial tcp 199.96.61.1:443: connect: connection
//!   timed out` (apecloud/kubeblocks#9169, where the pull later succeeded); `rpc error: code = 4
//!   desc = context deadline exceeded` (cri-o/cri-o#189); 5xx answers, `connection reset`,
//!   TLS handshake timeouts, Docker Hub's `429 Too Many Requests`.
//!
//! A message that names no permanent cause counts as transient: the wait goes on within its
//! step's deadline and its timeout message names the last pull error.

/// Container waiting reasons that mean a pull failed (the first failure, then the back-off).
pub(crate) const PULL_REASONS: &[&str] = &["ErrImagePull", "ImagePullBackOff"];

/// Message fragments (lower case) that name a permanent cause, and the cause they name.
const PERMANENT_CAUSES: &[(&str, &str)] = &[
    ("no match for platform", "no image for this node's platform"),
    ("no matching manifest", "no image for this node's platform"),
    ("manifest unknown", "the image is not in the registry"),
    ("not found", "the image is not in the registry"),
    ("code = notfound", "the image is not in the registry"),
    ("unauthorized", "the registry refuses the credentials"),
    (
        "authentication required",
        "the registry refuses the credentials",
    ),
    (
        "no basic auth credentials",
        "the registry refuses the credentials",
    ),
    ("denied", "the registry refuses the credentials"),
    ("403 forbidden", "the registry refuses the credentials"),
    ("invalidimagename", "the image name is invalid"),
    ("invalid reference format", "the image name is invalid"),
];

/// Why a failed pull cannot succeed on retry (`Some(cause)`), or `None` when the kubelet's
/// back-off may still get the image (timeouts, resets, 5xx, anything not known to be final).
pub(crate) fn permanent_cause(message: &str) -> Option<&'static str> {
    let message = message.to_ascii_lowercase();
    PERMANENT_CAUSES
        .iter()
        .find(|(fragment, _)| message.contains(fragment))
        .map(|(_, cause)| *cause)
}

/// Whether a container waiting reason is a pull failure (`ErrImagePull`, `ImagePullBackOff`).
pub(crate) fn is_pull_reason(reason: &str) -> bool {
    PULL_REASONS.contains(&reason)
}

/// Whether a wait's reason matches an expected `fails-with` text: it contains the text, or
/// the text names one pull reason and the reason the other (a pod seen first in
/// `ImagePullBackOff` failed to pull just as one seen in `ErrImagePull` did).
pub(crate) fn reason_matches(reason: &str, expected: &str) -> bool {
    if reason.contains(expected) {
        return true;
    }
    let [first, second] = [PULL_REASONS[0], PULL_REASONS[1]];
    (expected.contains(first) && reason.contains(&expected.replace(first, second)))
        || (expected.contains(second) && reason.contains(&expected.replace(second, first)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real kubelet/containerd texts for permanent causes (sources in the module doc).
    const PERMANENT: &[&str] = &[
        "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/salesforce/salesforcedx:latest\": failed to resolve reference \"docker.io/salesforce/salesforcedx:latest\": docker.io/salesforce/salesforcedx:latest: not found",
        "rpc error: code = NotFound desc = failed to pull and unpack image \"mcr.microsoft.com/windows/servercore:ltsc2019\": no match for platform in manifest: not found",
        "rpc error: code = Unknown desc = failed to pull and unpack image \"registry.app.xxx.net/spm2fog/partsgo42:v1\": failed to resolve reference \"registry.app.xxx.net/spm2fog/partsgo42:v1\": pulling from host registry.app.xxx.net failed with status code [manifests v1]: 401 Unauthorized",
        "rpc error: code = Unknown desc = failed to pull and unpack image \"docker.io/library/controller:latest\": failed to resolve reference \"docker.io/library/controller:latest\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
        "rpc error: code = Unknown desc = Error response from daemon: manifest for lachlanevenson/k8s-kubectl:v1.18.20 not found: manifest unknown: manifest unknown",
        "rpc error: code = Unknown desc = Error response from daemon: Get http://nexus3:8083/v2/com.panov/ci-cd/manifests/0.0.1-SNAPSHOT: no basic auth credentials",
        "failed to pull and unpack image \"ghcr.io/x/y:1\": failed to resolve reference \"ghcr.io/x/y:1\": unexpected status from HEAD request to https://ghcr.io/v2/x/y/manifests/1: 403 Forbidden",
        "Failed to apply default image tag \"Busybox\": couldn't parse image reference \"Busybox\": invalid reference format: repository name must be lowercase",
    ];

    /// Real texts for transient causes: the kubelet's back-off may still get the image.
    const TRANSIENT: &[&str] = &[
        "rpc error: code = DeadlineExceeded desc = failed to pull and unpack image \"registry.k8s.io/ingress-nginx/controller:v1.11.2\": failed to resolve reference \"registry.k8s.io/ingress-nginx/controller:v1.11.2\": failed to do request: Head \"https://us-west2-docker.pkg.dev/v2/k8s-artifacts-prod/images/ingress-nginx/controller/manifests/v1.11.2\": dial tcp 74.125.203.82:443: i/o timeout",
        "failed to pull and unpack image \"docker.io/msoap/shell2http:1.16.0\": failed to resolve reference \"docker.io/msoap/shell2http:1.16.0\": failed to do request: Head \"https://registry-1.docker.io/v2/msoap/shell2http/manifests/1.16.0\": dial tcp 199.96.61.1:443: connect: connection timed out",
        "rpc error: code = 4 desc = context deadline exceeded",
        "rpc error: code = Canceled desc = failed to pull and unpack image \"private/idrac:1\": failed to copy: httpReadSeeker: failed open: failed to do request: Get \"https://private/v2/blobs/sha256:d0\": context canceled",
        "failed to pull and unpack image \"registry.k8s.io/pause:3.10\": failed to resolve reference \"registry.k8s.io/pause:3.10\": unexpected status from HEAD request: 503 Service Unavailable",
        "failed to pull and unpack image \"docker.io/library/nginx:1\": failed to copy: read tcp 10.0.0.4:51234->104.16.1.1:443: read: connection reset by peer",
        "failed to pull and unpack image \"docker.io/library/nginx:1\": failed to resolve reference \"docker.io/library/nginx:1\": failed to do request: Head \"https://registry-1.docker.io/v2/library/nginx/manifests/1\": net/http: TLS handshake timeout",
        "failed to pull and unpack image \"docker.io/library/nginx:1\": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/nginx/manifests/sha256:ab: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading",
        "Back-off pulling image \"registry.k8s.io/e2e-test-images/agnhost:2.52\"",
    ];

    #[test]
    fn permanent_causes_are_recognised_in_real_messages() {
        for message in PERMANENT {
            assert!(permanent_cause(message).is_some(), "permanent: {message}");
        }
        assert_eq!(
            permanent_cause(PERMANENT[1]),
            Some("no image for this node's platform")
        );
        assert_eq!(
            permanent_cause(PERMANENT[2]),
            Some("the registry refuses the credentials")
        );
    }

    #[test]
    fn timeouts_resets_and_server_errors_are_transient() {
        for message in TRANSIENT {
            assert_eq!(permanent_cause(message), None, "transient: {message}");
        }
    }

    #[test]
    fn a_back_off_message_carrying_a_permanent_error_is_permanent() {
        let message = "Back-off pulling image \"busybox:1.36\": ErrImagePull: failed to pull and unpack image \"docker.io/library/busybox:1.36\": no match for platform in manifest: not found";
        assert!(permanent_cause(message).is_some());
    }

    #[test]
    fn either_pull_reason_satisfies_an_expectation_of_the_other() {
        let backoff = "container \"c\" is waiting: ImagePullBackOff: Back-off pulling image \"x\"";
        let first = "container \"c\" is waiting: ErrImagePull: x: not found";
        assert!(reason_matches(backoff, "ErrImagePull"));
        assert!(reason_matches(first, "ImagePullBackOff"));
        assert!(reason_matches(first, "not found"));
        assert!(!reason_matches(first, "Unschedulable"));
        assert!(!reason_matches(
            "container \"c\" is waiting: CrashLoopBackOff: back-off 10s",
            "ErrImagePull"
        ));
        assert!(is_pull_reason("ImagePullBackOff"));
        assert!(!is_pull_reason("CrashLoopBackOff"));
    }
}
