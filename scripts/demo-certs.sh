#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The compose demo's certificates: a local CA (DIR/ca.pem, for curl
# --cacert) and, in DIR, app.app.dev.crt + .key for the page's names
# (app.app.dev, app.app.localhost), laid out as the lb's --tls-certs reads
# them. Idempotent: an existing DIR/ca.pem is kept.
#   scripts/demo-certs.sh DIR
set -euo pipefail

DIR=${1:?usage: demo-certs.sh DIR}
mkdir -p "$DIR"
cd "$DIR"
[[ -s ca.pem ]] && exit 0
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
	-subj "/CN=xlb demo CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=app.app.dev \
	-keyout app.app.dev.key -out app.csr 2>/dev/null
printf 'subjectAltName=DNS:app.app.dev,DNS:app.app.localhost\n' >app.ext
openssl x509 -req -in app.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
	-extfile app.ext -out app.app.dev.crt 2>/dev/null
chmod 0600 app.app.dev.key ca.key
rm -f app.csr app.ext ca.srl
