#!/bin/sh
# Certificates for mTLS to the bundled Temporal server (deploy/compose.mtls.yml): one private CA and
#   server.pem/.key  the Temporal server (frontend and internode): DNS:temporal, DNS:localhost, IP:127.0.0.1,
#                    plus EXTRA_SANS (e.g. EXTRA_SANS=DNS:temporal.example.com,IP:10.0.0.5 to reach it by that name)
#   worker.pem/.key  adeflow workers (both roles)
#   ui.pem/.key      the Temporal UI
#   admin.pem/.key   the temporal-setup job and operators' CLIs (`temporal`, `adeflow`)
#
#   sh deploy/mtls/make-certs.sh secrets/tls       # or: make certs
#
# Existing files are kept: delete a leaf (or the whole directory, CA included) and rerun to reissue it. Leaves
# last DAYS (397) days, the CA ten years. The directory is 0700 and ca.key 0600 (it is never mounted anywhere).
# The other keys are 0644 on purpose: Compose bind-mounts each into the one service that lists it with its host
# owner and mode, and the server, UI and worker images run as different users; the directory keeps other host
# users out. Needs only openssl.
set -eu
out=${1:?usage: make-certs.sh OUTPUT_DIR}
days=${DAYS:-397}
umask 077
mkdir -p "$out"
chmod 700 "$out"
cd "$out"

key() { [ -f "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

if [ ! -f ca.pem ]; then
  key ca
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=adeflow Temporal CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
fi

# leaf NAME COMMON_NAME EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
leaf() {
  [ -f "$1.pem" ] && return 0
  key "$1"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$3"
    echo "subjectAltName=${4:-DNS:$2}"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
  } > "$1.ext"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
    -days "$days" -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

sans="DNS:temporal,DNS:localhost,IP:127.0.0.1${EXTRA_SANS:+,$EXTRA_SANS}"
leaf server temporal serverAuth,clientAuth "$sans"   # clientAuth: the server's services call each other with it
leaf worker adeflow-worker clientAuth
leaf ui temporal-ui clientAuth
leaf admin temporal-admin clientAuth

chmod 644 ./*.pem server.key worker.key ui.key admin.key
chmod 600 ca.key
echo "certificates in $out: ca.pem, server, worker, ui, admin (.pem/.key)"
