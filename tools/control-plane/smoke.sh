#!/usr/bin/env bash
# Smoke test of the real control plane built by build.sh, all on 127.0.0.1:
#   PKI (openssl) -> etcd -> kube-apiserver -> /readyz -> kubectl version / readyz?verbose
#   -> kube-controller-manager + kube-scheduler briefly -> their /healthz and
#   ServiceAccount default/default -> shut everything down.
#
# Usage: tools/control-plane/smoke.sh [BIN_DIR]
#   BIN_DIR defaults to $HYBRID_E2E_K8S_BIN, else the output of build.sh.
# Env: KEEP=1 keeps the temp dir (logs, PKI, kubeconfig); SKIP_CONTROLLERS=1 skips KCM/scheduler;
#      EGRESS=0 skips the egress-selector check (needs python3: a stub CONNECT server on a
#      Unix socket; a Node with InternalIP 10.244.0.5 is proxied through it, never dialed).
#      KUBECTL (default kubectl).
set -euo pipefail

say() { echo "smoke: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="${1:-${HYBRID_E2E_K8S_BIN:-}}"
[[ -n "$bin_dir" ]] || bin_dir="$("$here/build.sh")"
for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do
  [[ -x "$bin_dir/$c" ]] || { say "error: $bin_dir/$c missing (run build.sh)"; exit 1; }
done
kubectl="${KUBECTL:-kubectl}"
command -v openssl >/dev/null || { say "error: openssl not found"; exit 1; }
command -v curl >/dev/null || { say "error: curl not found"; exit 1; }
command -v "$kubectl" >/dev/null || { say "error: $kubectl not found"; exit 1; }

tmp="$(mktemp -d /tmp/hybrid-e2e-cp.XXXXXX)"
if [[ -d /dev/shm && -w /dev/shm ]]; then
  etcd_data="$(mktemp -d /dev/shm/hybrid-e2e-etcd.XXXXXX)"
else
  etcd_data="$tmp/etcd-data"
fi
pids=()
names=()
failed=1

cleanup() {
  local i
  # Newest first, one at a time: kube-apiserver's graceful shutdown still needs etcd
  # (stopping both at once makes it hang until SIGKILL).
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    # Give each one up to 10 s to exit, then SIGKILL.
    for _ in $(seq 100); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    if kill -KILL "${pids[i]}" 2>/dev/null; then say "${names[i]} ignored SIGTERM for 10 s: killed"; fi
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [[ $failed != 0 ]]; then
    for n in "${names[@]}"; do
      [[ -f "$tmp/$n.log" ]] && { say "---- last lines of $n.log"; tail -n 25 "$tmp/$n.log" >&2; }
    done
  fi
  rm -rf "$etcd_data"
  if [[ "${KEEP:-0}" == 1 ]]; then say "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_bg() { # name binary args...
  local name="$1"; shift
  "$@" >"$tmp/$name.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
}

alive() { # name pid
  kill -0 "$2" 2>/dev/null || { say "error: $1 exited early"; exit 1; }
}

used_ports=" "
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    [[ "$used_ports" == *" $p "* ]] && continue
    if [[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]]; then
      used_ports+="$p "
      echo "$p"
      return 0
    fi
  done
  say "error: no free port found"; exit 1
}

wait_for() { # what timeout_s command...
  local what="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { say "error: timed out after ${timeout}s waiting for $what"; exit 1; }
    sleep 0.2
  done
}

# ---------------------------------------------------------------- PKI
t0="$(now)"
pki="$tmp/pki"
mkdir -p "$pki"
(
  cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
    -subj "/CN=hybrid-e2e-ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
  sign() { # name subject extfile-text
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
    printf '%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile "$1.ext" -out "$1.crt"
  }
  sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,IP:10.240.0.2,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign admin "/O=system:masters/CN=kubernetes-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  openssl genrsa -out sa.key 2048
  openssl rsa -in sa.key -pubout -out sa.pub
) >"$tmp/pki.log" 2>&1 || { say "error: openssl failed"; cat "$tmp/pki.log" >&2; exit 1; }
say "PKI ready in $(since "$t0") s"

# ---------------------------------------------------------------- etcd
etcd_client="$(free_port)"
etcd_peer="$(free_port)"
etcd_url="http://127.0.0.1:$etcd_client"
t0="$(now)"
start_bg etcd "$bin_dir/etcd" \
  --name=smoke --data-dir="$etcd_data" \
  --listen-client-urls="$etcd_url" --advertise-client-urls="$etcd_url" \
  --listen-peer-urls="http://127.0.0.1:$etcd_peer" \
  --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
  --initial-cluster="smoke=http://127.0.0.1:$etcd_peer" \
  --unsafe-no-fsync --auto-compaction-retention=1 --quota-backend-bytes=$((512 * 1024 * 1024)) \
  --log-level=warn
etcd_pid="${pids[-1]}"
wait_for "etcd /health" 30 bash -c "kill -0 $etcd_pid && curl -fsS $etcd_url/health | grep -q '\"health\":\"true\"'"
say "etcd healthy on $etcd_url in $(since "$t0") s: $("$bin_dir/etcd" --version | tr '\n' ' ')"

# ---------------------------------------------------------------- kube-apiserver
api_port="$(free_port)"
api_url="https://127.0.0.1:$api_port"
kubeconfig="$tmp/admin.kubeconfig"
cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: smoke
  cluster:
    server: $api_url
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: smoke
  context: {cluster: smoke, user: admin}
current-context: smoke
EOF
apiserver_args=(
  --etcd-servers="$etcd_url"
  --bind-address=127.0.0.1 --secure-port="$api_port"
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key"
  --client-ca-file="$pki/ca.crt"
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction
  --service-account-issuer=https://kubernetes.default.svc.cluster.local
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key"
  --service-cluster-ip-range=10.96.0.0/12
  --advertise-address=10.240.0.2
  --allow-privileged=true
  --kubelet-preferred-address-types=InternalIP
  --cert-dir="$tmp/apiserver-certs"
)
egress=0
if [[ "${EGRESS:-1}" == 1 ]] && command -v python3 >/dev/null; then
  egress=1
  egress_sock="$tmp/egress.sock"
  cat >"$tmp/egress.yaml" <<EOF
apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: $egress_sock
EOF
  apiserver_args+=(--egress-selector-config-file="$tmp/egress.yaml")
  # Stub of the sim's CONNECT server: log the request line, answer 200, hang up.
  start_bg egress-stub python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
print("listening", sys.argv[1], flush=True)
while True:
    c, _ = s.accept()
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.recv(4096)
        if not chunk:
            break
        head += chunk
    print("REQUEST", head.split(b"\r\n")[0].decode(errors="replace"), flush=True)
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    c.close()
' "$egress_sock"
  wait_for "egress stub socket" 10 test -S "$egress_sock"
fi
t0="$(now)"
start_bg kube-apiserver "$bin_dir/kube-apiserver" "${apiserver_args[@]}"
api_pid="${pids[-1]}"
curl_admin=(curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
wait_for "kube-apiserver /readyz" 120 bash -c "kill -0 $api_pid && $(printf '%q ' "${curl_admin[@]}") $api_url/readyz"
say "kube-apiserver ready on $api_url in $(since "$t0") s (launch -> /readyz ok)"

echo "== kubectl version"
"$kubectl" --kubeconfig "$kubeconfig" version 2>&1
echo "== /readyz?verbose"
"$kubectl" --kubeconfig "$kubeconfig" get --raw '/readyz?verbose'
echo

if [[ $egress == 1 ]]; then
  # A Node whose kubelet is "at" 10.244.0.5:10250: nodes/proxy must leave as CONNECT over
  # the egress socket (the stub then hangs up, so the proxied request itself fails).
  "$kubectl" --kubeconfig "$kubeconfig" create -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata: {name: egress-probe}
status:
  addresses: [{type: InternalIP, address: 10.244.0.5}]
  daemonEndpoints: {kubeletEndpoint: {Port: 10250}}
EOF
  out="$("$kubectl" --kubeconfig "$kubeconfig" get --raw /api/v1/nodes/egress-probe/proxy/healthz 2>&1 || true)"
  echo "== nodes/proxy through egress (fails after CONNECT, as expected): $out"
  wait_for "CONNECT on the egress socket" 10 grep -q 'REQUEST CONNECT 10.244.0.5:10250' "$tmp/egress-stub.log"
  echo "== egress stub saw: $(grep REQUEST "$tmp/egress-stub.log" | head -n 1)"
  "$kubectl" --kubeconfig "$kubeconfig" delete node egress-probe >/dev/null
fi

# ---------------------------------------------------------------- controller-manager + scheduler
if [[ "${SKIP_CONTROLLERS:-0}" != 1 ]]; then
  kcm_port="$(free_port)"
  sched_port="$(free_port)"
  t0="$(now)"
  start_bg kube-controller-manager "$bin_dir/kube-controller-manager" \
    --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" --cert-dir="$tmp/kcm-certs" \
    --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --service-cluster-ip-range=10.96.0.0/12
  kcm_pid="${pids[-1]}"
  start_bg kube-scheduler "$bin_dir/kube-scheduler" \
    --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$sched_port" --cert-dir="$tmp/scheduler-certs" \
    --leader-elect=false
  sched_pid="${pids[-1]}"
  wait_for "kube-controller-manager /healthz" 60 bash -c "kill -0 $kcm_pid && curl -fsSk https://127.0.0.1:$kcm_port/healthz"
  say "kube-controller-manager healthy in $(since "$t0") s"
  wait_for "kube-scheduler /healthz" 60 bash -c "kill -0 $sched_pid && curl -fsSk https://127.0.0.1:$sched_port/healthz"
  say "kube-scheduler healthy in $(since "$t0") s"
  wait_for "ServiceAccount default/default" 60 "$kubectl" --kubeconfig "$kubeconfig" -n default get serviceaccount default
  say "ServiceAccount default/default exists after $(since "$t0") s"
  wait_for "ConfigMap default/kube-root-ca.crt" 60 "$kubectl" --kubeconfig "$kubeconfig" -n default get configmap kube-root-ca.crt
  say "ConfigMap default/kube-root-ca.crt exists after $(since "$t0") s"
  echo "== kube-controller-manager /healthz: $(curl -fsSk "https://127.0.0.1:$kcm_port/healthz")"
  echo "== kube-scheduler /healthz: $(curl -fsSk "https://127.0.0.1:$sched_port/healthz")"
  echo "== kubectl get serviceaccounts -A"
  "$kubectl" --kubeconfig "$kubeconfig" get serviceaccounts -A >"$tmp/sa.txt" 2>&1 || true
  head -n 12 "$tmp/sa.txt"  # (not a pipe: SIGPIPE under pipefail would abort the script)
  alive kube-controller-manager "$kcm_pid"
  alive kube-scheduler "$sched_pid"
fi
alive etcd "$etcd_pid"
alive kube-apiserver "$api_pid"

# Every connection of ours must stay on loopback (this machine must not dial 10.x etc.).
stray="$(ss -Htanp 2>/dev/null |
  awk '$5 !~ /^(127\.|\[::1\]|\[::ffff:127\.|\*|0\.0\.0\.0|\[::\])/ { print $5, $6 }' |
  grep -E "pid=($(IFS='|'; echo "${pids[*]}"))," || true)"
if [[ -n "$stray" ]]; then
  say "error: non-loopback connections seen: $stray"
  exit 1
fi

say "RSS (MB): $(for i in "${!pids[@]}"; do printf '%s=%s ' "${names[i]}" "$(( $(ps -o rss= -p "${pids[i]}" 2>/dev/null || echo 0) / 1024 ))"; done)"
failed=0
t0="$(now)"
trap - EXIT
cleanup
say "shut down in $(since "$t0") s"
say "OK"
