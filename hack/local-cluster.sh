#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, no containers: etcd + kube-apiserver +
# kube-controller-manager + kube-scheduler (1.20, built by hack/install-deps.sh), one set of
# processes per named instance, each on its own free 127.0.0.1 ports, so several instances
# (a test run beside `make run`) can run side by side. See docs/local-cluster.md.
#
# State of instance NAME lives in $TANDEM_CLUSTER_ROOT/NAME/:
#   certs/        CA, API server serving cert, client certs, service-account key pair
#   etcd/         etcd data (kept across down/up; removed by `down --purge`)
#   logs/*.log    one log per component (stdout+stderr, appended)
#   pids/*.pid    pid of each running component
#   flags/*       extra flags each component was started with (to notice a change)
#   ports         the chosen ports (key=value)
#   kubeconfig    admin kubeconfig (context NAME, namespace default)
#   *.kubeconfig  the controller-manager's and scheduler's own kubeconfigs
#   audit-policy.yaml, logs/audit.log   with TANDEM_AUDIT=1: the API server's audit policy and log
set -euo pipefail

PROG=${0##*/}
TANDEM_CACHE=${TANDEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem}
K8S_BIN=${TANDEM_K8S_BIN:-$TANDEM_CACHE/bin}
CLUSTER_ROOT=${TANDEM_CLUSTER_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem/clusters}

# Components in start order; `down` stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
# Keys in the ports file.
PORT_KEYS=(etcd_client etcd_peer apiserver controller_manager scheduler)
# Ports are picked from this range: below Linux's default ephemeral range (32768-60999), so an
# outgoing connection's source port never takes a port an instance will reuse at its next `up`.
PORT_MIN=${TANDEM_CLUSTER_PORT_MIN:-20000}
PORT_MAX=${TANDEM_CLUSTER_PORT_MAX:-32767}

APISERVER_TIMEOUT=${TANDEM_CLUSTER_TIMEOUT:-60}   # seconds for /readyz after start

usage() {
  cat <<EOF
Usage: $PROG COMMAND [NAME] [options]

A Kubernetes 1.20 control plane on 127.0.0.1 (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler), no containers, no kubelet. NAME defaults to "dev"; several instances can run
side by side, each on its own free ports.

Commands:
  up [NAME] [--apiserver-port N]   start the instance (no-op if already up and healthy); waits
                                   for /readyz, the default namespace and its default
                                   ServiceAccount token; prints how to use it
  down [NAME] [--purge]            stop the instance's processes (only those it recorded);
                                   --purge also deletes its state (certs, etcd data, logs)
  status [NAME]                    show each component and its port; exit 0 only if all are up
  env [NAME]                       print export lines: eval "\$($PROG env NAME)"
                                   (KUBECONFIG, TANDEM_CLUSTER_NAME, TANDEM_CLUSTER_DIR,
                                   TANDEM_APISERVER_URL, TANDEM_ETCD_ENDPOINT, TANDEM_CA_FILE,
                                   TANDEM_ADMIN_CERT_FILE, TANDEM_ADMIN_KEY_FILE, TANDEM_SA_KEY_FILE)
  list                             the instances that have state, and whether each is up

Environment:
  TANDEM_CLUSTER_ROOT   where instances live (default \${XDG_CACHE_HOME:-\$HOME/.cache}/tandem/clusters)
  TANDEM_K8S_BIN        directory with kube-apiserver etc. (default \$TANDEM_CACHE/bin)
  TANDEM_APISERVER_FLAGS, TANDEM_CONTROLLER_MANAGER_FLAGS, TANDEM_SCHEDULER_FLAGS, TANDEM_ETCD_FLAGS
                        extra flags (whitespace-separated, appended last so they win), e.g.
                        TANDEM_APISERVER_FLAGS="--watch-cache=false". \`up\` restarts a running
                        component whose extra flags differ from what it was started with.
                        Admission plugins are opt-in the same way, added to 1.20's default set:
                        TANDEM_APISERVER_FLAGS="--enable-admission-plugins=PodSecurityPolicy" (pods
                        are then refused until a PodSecurityPolicy allows them; the ReplicaSet
                        controller creates pods as kube-system:replicaset-controller, since the
                        controller-manager runs with --use-service-account-credentials).
  TANDEM_CLUSTER_TIMEOUT seconds to wait for the API server to become ready (default 60)
  TANDEM_AUDIT=1        the API server writes an audit log of every request at Metadata level
                        (who, verb, resource, response code; no bodies) to logs/audit.log, one
                        JSON event a line; \`env\` then prints TANDEM_AUDIT_LOG. Like the extra
                        flags, turning it on or off restarts a running API server.

Current state: $CLUSTER_ROOT
EOF
}

prefix() { if [ -n "${NAME:-}" ]; then printf '%s[%s]' "$PROG" "$NAME"; else printf '%s' "$PROG"; fi; }
log()  { printf '%s: %s\n' "$(prefix)" "$*" >&2; }
die()  { printf '%s: error: %s\n' "$(prefix)" "$*" >&2; exit 1; }

# --- paths and small helpers -----------------------------------------------------------------

set_instance() {
  NAME=$1
  [[ $NAME =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "invalid instance name '$NAME' (letters, digits, . _ -)"
  DIR=$CLUSTER_ROOT/$NAME
  CERTS=$DIR/certs
  LOGS=$DIR/logs
  PIDS=$DIR/pids
  FLAGS=$DIR/flags
  PORTS_FILE=$DIR/ports
  KUBECONFIG_FILE=$DIR/kubeconfig
}

component_bin() {
  case $1 in
    etcd) command -v etcd || echo etcd ;;
    *) echo "$K8S_BIN/$1" ;;
  esac
}

# Extra flags for a component, from the environment.
component_extra_flags() {
  case $1 in
    etcd) echo "${TANDEM_ETCD_FLAGS:-}" ;;
    kube-apiserver) echo "${TANDEM_APISERVER_FLAGS:-}$(audit_flags)" ;;
    kube-controller-manager) echo "${TANDEM_CONTROLLER_MANAGER_FLAGS:-}" ;;
    kube-scheduler) echo "${TANDEM_SCHEDULER_FLAGS:-}" ;;
  esac
}

# With TANDEM_AUDIT=1, the API server's audit flags (appended to its extra flags, so that turning
# auditing on or off restarts it). One file, not rotated: a test cluster lives minutes.
audit_flags() {
  [ "${TANDEM_AUDIT:-0}" = 1 ] || return 0
  printf ' --audit-policy-file=%s --audit-log-path=%s --audit-log-format=json' \
    "$DIR/audit-policy.yaml" "$LOGS/audit.log"
}

# Metadata level for every request (user, verb, resource, namespace, name, response code), once
# a request is complete: enough to list what an account used and what it was denied.
write_audit_policy() {
  [ "${TANDEM_AUDIT:-0}" = 1 ] || return 0
  cat >"$DIR/audit-policy.yaml" <<'EOF_POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
EOF_POLICY
}

# The ports key a component listens on (its main port).
component_port_key() {
  case $1 in
    etcd) echo etcd_client ;;
    kube-apiserver) echo apiserver ;;
    kube-controller-manager) echo controller_manager ;;
    kube-scheduler) echo scheduler ;;
  esac
}

check_binaries() {
  local missing=() c
  for c in "${COMPONENTS[@]}"; do
    if [ "$c" = etcd ]; then
      command -v etcd >/dev/null 2>&1 || missing+=("etcd (on PATH)")
    else
      [ -x "$K8S_BIN/$c" ] || missing+=("$K8S_BIN/$c")
    fi
  done
  command -v openssl >/dev/null 2>&1 || missing+=("openssl (on PATH)")
  command -v curl >/dev/null 2>&1 || missing+=("curl (on PATH)")
  if [ ${#missing[@]} -gt 0 ]; then
    die "missing: ${missing[*]}; run hack/install-deps.sh (or: make deps) first"
  fi
}

# Read the ports file into the associative array PORT.
declare -A PORT=()
load_ports() {
  PORT=()
  [ -f "$PORTS_FILE" ] || return 0
  local k v
  while IFS='=' read -r k v; do
    [[ $k =~ ^[a-z_]+$ && $v =~ ^[0-9]+$ ]] && PORT[$k]=$v
  done <"$PORTS_FILE"
  return 0
}

save_ports() {
  local k tmp=$PORTS_FILE.tmp.$$
  : >"$tmp"
  for k in "${PORT_KEYS[@]}"; do echo "$k=${PORT[$k]}" >>"$tmp"; done
  mv -f "$tmp" "$PORTS_FILE"
}

# --- processes ---------------------------------------------------------------------------------

# Prints the recorded pid of a component if that process is alive and still is the component of
# this instance: argv[0] is the expected binary and its arguments name this instance's state
# directory (so a recycled pid, or the same binary of another instance, never matches).
running_pid() {
  local comp=$1 pidfile=$PIDS/$1.pid pid cmd
  [ -f "$pidfile" ] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  cmd=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [ -n "$cmd" ] || return 1                       # zombie or gone
  local argv0=${cmd%%$'\n'*}
  [ "${argv0##*/}" = "$comp" ] || return 1
  [[ $cmd == *"$DIR/"* ]] || return 1
  echo "$pid"
}

# Start a component detached (own session, stdin /dev/null, stdout+stderr to its log, no
# inherited descriptors beyond 0-2, so it never holds the caller's pipes open) and record its pid.
start_component() {
  local comp=$1; shift
  local bin log=$LOGS/$comp.log pidfile=$PIDS/$comp.pid i
  bin=$(component_bin "$comp")
  rm -f "$pidfile"
  printf '\n=== %s starting %s at %s\n' "$PROG" "$comp" "$(date -u +%FT%TZ)" >>"$log"
  { printf '===' && printf ' %q' "$bin" "$@" && echo; } >>"$log"
  # The wrapper shell writes its own pid, closes every inherited descriptor above 2, then execs the
  # binary in place, so the recorded pid is the component's even if setsid had to fork.
  setsid bash -c '
    pidfile=$1; shift
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ] 2>/dev/null; then exec {fd}>&-; fi
    done
    echo $$ >"$pidfile.tmp" && mv -f "$pidfile.tmp" "$pidfile" && exec "$@"
  ' local-cluster-start "$pidfile" "$bin" "$@" </dev/null >>"$log" 2>&1 &
  for i in $(seq 1 50); do
    [ -s "$pidfile" ] && break
    sleep 0.1
  done
  [ -s "$pidfile" ] || fail_component "$comp" "did not start"
  STARTED+=("$comp")
  # The wrapper writes the pid just before exec; wait until the pid shows the component itself.
  local pid; pid=$(<"$pidfile")
  for i in $(seq 1 50); do
    running_pid "$comp" >/dev/null && break
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
}

# Stop one component by its recorded pid: SIGTERM, up to 10 s, then SIGKILL.
stop_component() {
  local comp=$1 pid i
  if pid=$(running_pid "$comp"); then
    log "stopping $comp (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
      running_pid "$comp" >/dev/null || break
      sleep 0.1
    done
    if running_pid "$comp" >/dev/null; then
      log "$comp (pid $pid) did not exit after 10 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 50); do
        running_pid "$comp" >/dev/null || break
        sleep 0.1
      done
    fi
  elif [ -f "$PIDS/$comp.pid" ]; then
    local stale; stale=$(<"$PIDS/$comp.pid")
    if [ -d "/proc/$stale" ] && [ -n "$(tr -d '\0' <"/proc/$stale/cmdline" 2>/dev/null)" ]; then
      log "pid $stale recorded for $comp is now another process; not touching it"
    fi
  fi
  rm -f "$PIDS/$comp.pid"
}

stop_all() {
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[$i]}"; done
}

# On failure during `up`: show the failing component's log, stop what this run started, exit 1.
STARTED=()
fail_component() {
  local comp=$1 msg=$2 i
  log "$comp $msg; last 30 lines of $LOGS/$comp.log (this start):"
  # Only what this start logged: from the last header start_component wrote.
  awk '/^=== .* starting .* at /{n=0} {buf[n++]=$0} END{for(i=(n>30?n-30:0);i<n;i++) print buf[i]}' \
    "$LOGS/$comp.log" >&2 2>/dev/null || true
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_component "${STARTED[$i]}"; done
  die "$comp $msg (log: $LOGS/$comp.log)"
}

# --- ports ---------------------------------------------------------------------------------------

HAVE_PYTHON=0
command -v python3 >/dev/null 2>&1 && python3 -c '' >/dev/null 2>&1 && HAVE_PYTHON=1

# True if 127.0.0.1:PORT can be listened on (without python: if nothing accepts there). Binds the
# way Go's net.Listen does (SO_REUSEADDR), so connections in TIME_WAIT left by a just-stopped
# instance do not count as taken.
port_free() {
  local p=$1
  if [ $HAVE_PYTHON = 1 ]; then
    python3 - "$p" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(1)
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
  else
    ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
  fi
}

# Ports recorded by every other instance, so two instances never pick the same port even while
# one of them is down.
ports_of_other_instances() {
  local f
  for f in "$CLUSTER_ROOT"/*/ports; do
    [ -f "$f" ] || continue
    [ "$f" = "$PORTS_FILE" ] && continue
    sed -n 's/^[a-z_]*=\([0-9][0-9]*\)$/\1/p' "$f"
  done
}

# Pick one free port in [PORT_MIN, PORT_MAX] not in the space-separated list $1.
pick_port() {
  local exclude=" $1 " p tries
  for tries in $(seq 1 200); do
    p=$((PORT_MIN + (RANDOM * 32768 + RANDOM) % (PORT_MAX - PORT_MIN + 1)))
    [[ $exclude == *" $p "* ]] && continue
    port_free "$p" && { echo "$p"; return 0; }
  done
  die "no free port found in $PORT_MIN-$PORT_MAX"
}

# --- certificates --------------------------------------------------------------------------------

# RSA 2048 keys and SHA-256 signatures: accepted by Go (kube-apiserver 1.20) and by BoringSSL
# (SwiftNIO SSL) alike. Minimal own openssl configs so the system openssl.cnf does not matter.
gen_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }

# make_ca DIR NAME SUBJECT: a self-signed CA, NAME.key and NAME.crt.
make_ca() {
  local d=$1 n=$2 subj=$3
  gen_key "$d/$n.key"
  printf '%s\n' '[req]' 'distinguished_name = dn' 'prompt = no' '[dn]' \
    '[v3_ca]' 'basicConstraints = critical, CA:TRUE' \
    'keyUsage = critical, keyCertSign, cRLSign, digitalSignature' \
    'subjectKeyIdentifier = hash' >"$d/$n.cnf"
  openssl req -x509 -new -key "$d/$n.key" -subj "$subj" -days 3650 -sha256 \
    -config "$d/$n.cnf" -extensions v3_ca -out "$d/$n.crt"
  rm -f "$d/$n.cnf"
}

# sign_cert DIR NAME SUBJECT EXTENSIONS: key NAME.key, cert NAME.crt signed by DIR/ca.
sign_cert() {
  local d=$1 n=$2 subj=$3 ext=$4
  gen_key "$d/$n.key"
  printf '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n' >"$d/req.cnf"
  openssl req -new -key "$d/$n.key" -subj "$subj" -config "$d/req.cnf" -out "$d/$n.csr"
  printf '[ext]\n%s\n' "$ext" >"$d/$n.ext"
  openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 \
    -extfile "$d/$n.ext" -extensions ext -out "$d/$n.crt"
  rm -f "$d/$n.csr" "$d/$n.ext" "$d/req.cnf"
}

# Generate all certificates once per instance (kept across down/up; `down --purge` removes them).
ensure_certs() {
  [ -f "$CERTS/.complete" ] && return 0
  log "generating certificates in $CERTS"
  local t=$DIR/certs.tmp.$$
  rm -rf "$t"
  (umask 077 && mkdir -p "$t")
  # Run in a background subshell and `wait` for it: `set -e` stays in force inside it (it would
  # not in a subshell that is part of a || list).
  (
    umask 077
    set -e
    make_ca "$t" ca "/CN=tandem-$NAME-ca"
    local leaf='basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid'
    # 10.96.0.1: the `kubernetes` Service's ClusterIP, first address of --service-cluster-ip-range.
    sign_cert "$t" apiserver "/CN=kube-apiserver" "$leaf
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:10.96.0.1"
    # O=system:masters: the group RBAC binds to cluster-admin out of the box.
    sign_cert "$t" admin "/O=system:masters/CN=tandem-admin" "$leaf
extendedKeyUsage = clientAuth"
    # These user names are what the bootstrap RBAC roles system:kube-controller-manager and
    # system:kube-scheduler are bound to.
    sign_cert "$t" controller-manager "/CN=system:kube-controller-manager" "$leaf
extendedKeyUsage = clientAuth"
    sign_cert "$t" scheduler "/CN=system:kube-scheduler" "$leaf
extendedKeyUsage = clientAuth"
    gen_key "$t/sa.key"
    openssl pkey -in "$t/sa.key" -pubout -out "$t/sa.pub"
    make_ca "$t" front-proxy-ca "/CN=tandem-$NAME-front-proxy-ca"
    chmod 644 "$t"/*.crt "$t/sa.pub"
    touch "$t/.complete"
  ) 2>"$DIR/openssl.log" &
  if ! wait $!; then
    cat "$DIR/openssl.log" >&2
    rm -rf "$t"
    die "certificate generation failed"
  fi
  rm -f "$DIR/openssl.log"
  rm -rf "$CERTS"
  mv "$t" "$CERTS"
  CERTS_NEW=1
}

# --- kubeconfigs ---------------------------------------------------------------------------------

b64() { base64 -w0 <"$1"; }

# write_kubeconfig FILE CERT KEY USER
write_kubeconfig() {
  local f=$1 cert=$2 key=$3 user=$4 tmp=$1.tmp.$$
  (
    umask 077
    cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $NAME
  cluster:
    server: https://127.0.0.1:${PORT[apiserver]}
    certificate-authority-data: $(b64 "$CERTS/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$cert")
    client-key-data: $(b64 "$key")
contexts:
- name: $NAME
  context:
    cluster: $NAME
    user: $user
    namespace: default
current-context: $NAME
EOF
  )
  mv -f "$tmp" "$f"
}

write_kubeconfigs() {
  write_kubeconfig "$KUBECONFIG_FILE" "$CERTS/admin.crt" "$CERTS/admin.key" "$NAME-admin"
  write_kubeconfig "$DIR/controller-manager.kubeconfig" "$CERTS/controller-manager.crt" \
    "$CERTS/controller-manager.key" system:kube-controller-manager
  write_kubeconfig "$DIR/scheduler.kubeconfig" "$CERTS/scheduler.crt" "$CERTS/scheduler.key" \
    system:kube-scheduler
}

# --- component command lines ---------------------------------------------------------------------

component_args() {
  local comp=$1 extra
  ARGS=()
  case $comp in
    etcd)
      ARGS=(--name "$NAME" --data-dir "$DIR/etcd"
        --listen-client-urls "http://127.0.0.1:${PORT[etcd_client]}"
        --advertise-client-urls "http://127.0.0.1:${PORT[etcd_client]}"
        --listen-peer-urls "http://127.0.0.1:${PORT[etcd_peer]}"
        --initial-advertise-peer-urls "http://127.0.0.1:${PORT[etcd_peer]}"
        --initial-cluster "$NAME=http://127.0.0.1:${PORT[etcd_peer]}"
        --initial-cluster-token "tandem-$NAME"
        --logger zap)   # etcd 3.4 warns that its default logger (capnslog) is deprecated
      ;;
    kube-apiserver)
      # No --insecure-port: 1.20 only accepts 0 and warns that the flag "has no effect now".
      ARGS=(--etcd-servers="http://127.0.0.1:${PORT[etcd_client]}"
        --bind-address=127.0.0.1 --advertise-address=127.0.0.1
        --secure-port="${PORT[apiserver]}"
        --cert-dir="$DIR/certs/apiserver-generated"
        --tls-cert-file="$CERTS/apiserver.crt" --tls-private-key-file="$CERTS/apiserver.key"
        --client-ca-file="$CERTS/ca.crt"
        # Without a request-header CA the controller-manager and scheduler log "missing content
        # for CA bundle ... requestheader-client-ca-file" over and over. Nothing uses it otherwise.
        --requestheader-client-ca-file="$CERTS/front-proxy-ca.crt"
        --requestheader-allowed-names=front-proxy-client
        --requestheader-username-headers=X-Remote-User
        --requestheader-group-headers=X-Remote-Group
        --requestheader-extra-headers-prefix=X-Remote-Extra-
        --authorization-mode=Node,RBAC
        --service-account-issuer=https://kubernetes.default.svc
        --service-account-key-file="$CERTS/sa.pub"
        --service-account-signing-key-file="$CERTS/sa.key"
        --api-audiences=https://kubernetes.default.svc
        --service-cluster-ip-range=10.96.0.0/16
        # Endpoints in 127.0.0.0/8 are refused by the API server, so do not reconcile the
        # `kubernetes` Service's endpoints to the advertise address.
        --endpoint-reconciler-type=none
        --allow-privileged=true
        --enable-priority-and-fairness=false
        --profiling=false)
      ;;
    kube-controller-manager)
      local kc=$DIR/controller-manager.kubeconfig
      ARGS=(--kubeconfig="$kc"
        --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc"
        --bind-address=127.0.0.1 --secure-port="${PORT[controller_manager]}" --port=0
        --cert-dir="$DIR/certs/controller-manager-generated"
        # The token controller signs ServiceAccount token secrets with this key and puts ca.crt
        # in them; without both no `default` ServiceAccount gets a token (and pods are refused).
        --service-account-private-key-file="$CERTS/sa.key" --root-ca-file="$CERTS/ca.crt"
        --use-service-account-credentials=true
        --cluster-signing-cert-file="$CERTS/ca.crt" --cluster-signing-key-file="$CERTS/ca.key"
        --leader-elect=false
        # Its default is /usr/libexec/kubernetes/kubelet-plugins/volume/exec/, which it creates.
        --flex-volume-plugin-dir="$DIR/flexvolume"
        # No cloud and no pod network here: the IPAM, service (load balancer), route and cloud
        # node controllers have nothing to do and only log errors.
        --controllers='*,-nodeipam,-service,-route,-cloud-node-lifecycle'
        --profiling=false)
      ;;
    kube-scheduler)
      local kc=$DIR/scheduler.kubeconfig
      ARGS=(--kubeconfig="$kc"
        --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc"
        --bind-address=127.0.0.1 --secure-port="${PORT[scheduler]}" --port=0
        --cert-dir="$DIR/certs/scheduler-generated"
        --leader-elect=false
        --profiling=false)
      ;;
  esac
  extra=$(component_extra_flags "$comp")
  if [ -n "$extra" ]; then
    local more; read -r -a more <<<"$extra"
    ARGS+=("${more[@]}")
  fi
}

# --- health checks -------------------------------------------------------------------------------

admin_curl() {
  curl -sS --max-time 5 --cacert "$CERTS/ca.crt" --cert "$CERTS/admin.crt" --key "$CERTS/admin.key" "$@"
}

etcd_healthy() {
  local body; body=$(curl -s --max-time 2 "http://127.0.0.1:${PORT[etcd_client]}/health" 2>/dev/null) || return 1
  [[ $body == *'"health":"true"'* ]]
}
apiserver_ready() {
  [ "$(admin_curl "https://127.0.0.1:${PORT[apiserver]}/readyz" 2>/dev/null)" = ok ]
}
# The controller-manager's and scheduler's /healthz is always allowed without credentials.
secure_healthz() {
  [ "$(curl -sk --max-time 2 "https://127.0.0.1:$1/healthz" 2>/dev/null)" = ok ]
}
component_healthy() {
  case $1 in
    etcd) etcd_healthy ;;
    kube-apiserver) apiserver_ready ;;
    kube-controller-manager) secure_healthz "${PORT[controller_manager]}" ;;
    kube-scheduler) secure_healthz "${PORT[scheduler]}" ;;
  esac
}

# wait_for COMPONENT SECONDS CHECK...: poll CHECK until it succeeds; fail if the component dies.
wait_for() {
  local comp=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  while ! "$@"; do
    running_pid "$comp" >/dev/null || fail_component "$comp" "exited"
    [ $SECONDS -lt $deadline ] || fail_component "$comp" "not ready after ${secs}s"
    sleep 0.25
  done
}

# The default namespace exists and its `default` ServiceAccount has its token secret: only then
# does the ServiceAccount admission plugin of 1.20 admit pods there.
default_sa_ready() {
  local body
  body=$(admin_curl "https://127.0.0.1:${PORT[apiserver]}/api/v1/namespaces/default/serviceaccounts/default" 2>/dev/null) \
    || return 1
  [[ $body == *'"secrets"'* ]]
}

# --- commands ------------------------------------------------------------------------------------

lock_instance() {
  mkdir -p "$CLUSTER_ROOT/.locks"
  exec 8>"$CLUSTER_ROOT/.locks/$NAME.lock"
  flock 8 2>/dev/null || true
}

cmd_up() {
  local force_port=$1
  check_binaries
  mkdir -p "$DIR"
  lock_instance
  mkdir -p "$LOGS" "$PIDS" "$FLAGS"
  write_audit_policy
  CERTS_NEW=0
  ensure_certs

  # Which components are running with the flags asked for now.
  declare -A alive=() keep=()
  local c pid
  for c in "${COMPONENTS[@]}"; do
    if pid=$(running_pid "$c"); then alive[$c]=$pid; fi
  done

  # Ports: keep the recorded ones; for a component that must (re)start, take a new port if its
  # recorded one is taken. Allocation is serialized across instances.
  exec 7>"$CLUSTER_ROOT/.locks/ports.lock"
  flock 7 2>/dev/null || true
  load_ports
  declare -A old=()
  local k
  for k in "${PORT_KEYS[@]}"; do old[$k]=${PORT[$k]:-}; done
  local taken
  taken="$(ports_of_other_instances | tr '\n' ' ')"
  [ -n "$force_port" ] && PORT[apiserver]=$force_port

  keep_if_unchanged() {   # COMPONENT DEPENDENCY-PORT-KEYS...
    local comp=$1; shift
    [ -n "${alive[$comp]:-}" ] || return 1
    [ "$CERTS_NEW" = 0 ] || return 1
    [ "$(cat "$FLAGS/$comp" 2>/dev/null)" = "$(component_extra_flags "$comp")" ] || return 1
    local key
    for key in "$@"; do [ "${PORT[$key]:-}" = "${old[$key]}" ] || return 1; done
    return 0
  }
  ensure_port() {   # KEY COMPONENT: a free port for a component that is going to (re)start
    local key=$1 comp=$2 p=${PORT[$1]:-} used=" $taken "
    local k2; for k2 in "${PORT_KEYS[@]}"; do [ "$k2" = "$key" ] || used+="${PORT[$k2]:-} "; done
    if [ -n "$p" ] && [[ $used != *" $p "* ]]; then
      # Still held by our own running component, which is about to be restarted: keep it.
      if [ -n "${alive[$comp]:-}" ] && [ "$p" = "${old[$key]}" ]; then return 0; fi
      port_free "$p" && return 0
    fi
    if [ "$key" = apiserver ] && [ -n "$force_port" ]; then
      die "--apiserver-port $force_port: 127.0.0.1:$force_port is in use (or recorded by another instance)"
    fi
    [ -n "$p" ] && log "port $p ($key) is taken; picking another"
    PORT[$key]=$(pick_port "$used") || exit 1   # (set -e is off here: called from a || list)
  }

  keep_if_unchanged etcd etcd_client && keep[etcd]=1 \
    || { ensure_port etcd_client etcd; ensure_port etcd_peer etcd; }
  keep_if_unchanged kube-apiserver etcd_client apiserver && keep[kube-apiserver]=1 \
    || ensure_port apiserver kube-apiserver
  keep_if_unchanged kube-controller-manager apiserver controller_manager && keep[kube-controller-manager]=1 \
    || ensure_port controller_manager kube-controller-manager
  keep_if_unchanged kube-scheduler apiserver scheduler && keep[kube-scheduler]=1 \
    || ensure_port scheduler kube-scheduler
  save_ports
  flock -u 7 2>/dev/null || true
  exec 7>&-

  write_kubeconfigs   # same content when nothing changed; replaced atomically
  if [ ${#keep[@]} -eq ${#COMPONENTS[@]} ] && apiserver_ready; then
    log "already up: https://127.0.0.1:${PORT[apiserver]} (nothing to do)"
    return 0
  fi

  # Stop what is running but must restart (changed flags or ports), in reverse order.
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[$i]}
    if [ -n "${alive[$c]:-}" ] && [ -z "${keep[$c]:-}" ]; then stop_component "$c"; fi
  done

  local t0=$SECONDS
  for c in "${COMPONENTS[@]}"; do
    if [ -n "${keep[$c]:-}" ]; then continue; fi
    component_args "$c"
    component_extra_flags "$c" >"$FLAGS/$c"
    log "starting $c on 127.0.0.1:${PORT[$(component_port_key "$c")]}"
    start_component "$c" "${ARGS[@]}"
    case $c in
      etcd) wait_for etcd 20 etcd_healthy ;;
      kube-apiserver) wait_for kube-apiserver "$APISERVER_TIMEOUT" apiserver_ready ;;
    esac
  done
  # Both wait here so they start in parallel.
  wait_for kube-controller-manager 30 secure_healthz "${PORT[controller_manager]}"
  wait_for kube-scheduler 30 secure_healthz "${PORT[scheduler]}"
  wait_for kube-controller-manager 60 default_sa_ready
  log "up in $((SECONDS - t0))s: https://127.0.0.1:${PORT[apiserver]}"
  log "use it with: eval \"\$($0 env $NAME)\"   (or KUBECONFIG=$KUBECONFIG_FILE)"
}

cmd_down() {
  local purge=$1
  if [ ! -d "$DIR" ]; then
    log "no instance '$NAME' in $CLUSTER_ROOT; nothing to stop"
    return 0
  fi
  lock_instance
  stop_all
  if [ "$purge" = 1 ]; then
    log "removing $DIR"
    rm -rf -- "$DIR"
    rm -f "$CLUSTER_ROOT/.locks/$NAME.lock"
  else
    log "stopped (state kept in $DIR)"
  fi
}

cmd_status() {
  [ -d "$DIR" ] || { echo "$NAME: no such instance (in $CLUSTER_ROOT)"; return 1; }
  load_ports
  local c pid ok=1 state port
  echo "instance $NAME ($DIR)"
  for c in "${COMPONENTS[@]}"; do
    port=${PORT[$(component_port_key "$c")]:-?}
    if pid=$(running_pid "$c"); then
      if component_healthy "$c"; then state="running  pid $pid"; else state="unhealthy pid $pid"; ok=0; fi
    else
      state="stopped"; ok=0
    fi
    [ "$c" = etcd ] && port="$port (peer ${PORT[etcd_peer]:-?})"
    printf '  %-24s %-20s 127.0.0.1:%s\n' "$c" "$state" "$port"
  done
  echo "  kubeconfig               $KUBECONFIG_FILE"
  if [ $ok = 1 ]; then echo "  up: https://127.0.0.1:${PORT[apiserver]}"; return 0; fi
  echo "  not up"
  return 1
}

cmd_env() {
  [ -f "$PORTS_FILE" ] || die "no instance '$NAME' in $CLUSTER_ROOT (run: $0 up $NAME)"
  load_ports
  printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_FILE"
  printf 'export TANDEM_CLUSTER_NAME=%q\n' "$NAME"
  printf 'export TANDEM_CLUSTER_DIR=%q\n' "$DIR"
  printf 'export TANDEM_APISERVER_URL=%q\n' "https://127.0.0.1:${PORT[apiserver]:-}"
  printf 'export TANDEM_ETCD_ENDPOINT=%q\n' "http://127.0.0.1:${PORT[etcd_client]:-}"
  printf 'export TANDEM_CA_FILE=%q\n' "$CERTS/ca.crt"
  printf 'export TANDEM_ADMIN_CERT_FILE=%q\n' "$CERTS/admin.crt"
  printf 'export TANDEM_ADMIN_KEY_FILE=%q\n' "$CERTS/admin.key"
  printf 'export TANDEM_SA_KEY_FILE=%q\n' "$CERTS/sa.key"
  if grep -q -- '--audit-log-path=' "$FLAGS/kube-apiserver" 2>/dev/null; then
    printf 'export TANDEM_AUDIT_LOG=%q\n' "$LOGS/audit.log"
  fi
}

cmd_list() {
  local d n c running
  for d in "$CLUSTER_ROOT"/*/; do
    [ -d "$d" ] || continue
    n=${d%/}; n=${n##*/}
    [[ $n =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || continue
    set_instance "$n"
    running=0
    for c in "${COMPONENTS[@]}"; do running_pid "$c" >/dev/null && running=$((running + 1)); done
    load_ports
    if [ $running -eq ${#COMPONENTS[@]} ]; then
      printf '%-20s up       https://127.0.0.1:%s\n' "$n" "${PORT[apiserver]:-?}"
    elif [ $running -gt 0 ]; then
      printf '%-20s partial  %d/%d components running\n' "$n" "$running" "${#COMPONENTS[@]}"
    else
      printf '%-20s down\n' "$n"
    fi
  done
}

# --- main ----------------------------------------------------------------------------------------

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  local name="" purge=0 force_port=""
  while [ $# -gt 0 ]; do
    case $1 in
      --apiserver-port) [ $# -ge 2 ] || die "--apiserver-port needs a value"; force_port=$2; shift 2 ;;
      --apiserver-port=*) force_port=${1#*=}; shift ;;
      --purge) purge=1; shift ;;
      -h|--help) usage; exit 0 ;;
      -*) usage >&2; die "unknown option $1" ;;
      *) [ -z "$name" ] || die "unexpected argument $1"; name=$1; shift ;;
    esac
  done
  if [ -n "$force_port" ]; then
    [[ $force_port =~ ^[0-9]+$ ]] && [ "$force_port" -ge 1 ] && [ "$force_port" -le 65535 ] \
      || die "--apiserver-port: not a port: $force_port"
    [ "$cmd" = up ] || die "--apiserver-port only applies to up"
  fi
  [ "$purge" = 0 ] || [ "$cmd" = down ] || die "--purge only applies to down"
  case $cmd in
    up|down|status|env) set_instance "${name:-dev}" ;;
    list) [ -z "$name" ] || die "list takes no name" ;;
  esac
  case $cmd in
    up) cmd_up "$force_port" ;;
    down) cmd_down "$purge" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    list) cmd_list ;;
    -h|--help|help) usage ;;
    "") usage >&2; exit 2 ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
