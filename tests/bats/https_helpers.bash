# SPDX-License-Identifier: GPL-2.0
# What the tests of terminated TLS share: a local CA, certificates in
# nginx-proxy's layout with fixed serials (so that a test can tell which
# one a client got), and clients that check them against the CA.

# make_ca DIR: a CA, DIR/ca.pem and DIR/ca.key; certificates go to DIR/certs.
make_ca() {
	local dir=$1
	mkdir -p "$dir/certs"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=xlb test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
}

# issue DIR FILE NAME SERIAL crt|pem: a certificate for NAME signed by
# DIR's CA, written as DIR/certs/FILE.crt + FILE.key or FILE.pem.
issue() {
	local dir=$1 file=$2 name=$3 serial=$4 form=$5 t
	t=$(mktemp -d)
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
		-keyout "$t/key" -out "$t/csr" 2>/dev/null
	printf 'subjectAltName=DNS:%s\n' "$name" >"$t/ext"
	openssl x509 -req -in "$t/csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -set_serial "$serial" \
		-days 1 -extfile "$t/ext" -out "$t/crt" 2>/dev/null
	if [[ $form == pem ]]; then
		cat "$t/crt" "$t/key" >"$dir/certs/$file.pem"
		chmod 0600 "$dir/certs/$file.pem"
	else
		cp "$t/crt" "$dir/certs/$file.crt"
		install -m 0600 "$t/key" "$dir/certs/$file.key"
	fi
	rm -rf "$t"
}

# https_get CA NAME PATH [CURL ARGS...]: a request to NAME over the shared
# TLS port, the certificate checked against CA.
https_get_ca() {
	local ca=$1 name=$2 path=$3
	shift 3
	in_client curl -sS -m 5 --cacert "$ca" --resolve "$name:443:$LB4" "$@" "https://$name$path"
}

# served_serial NAME: the serial of the certificate the client gets for NAME.
served_serial() {
	in_client openssl s_client -connect "$LB4:443" -servername "$1" </dev/null 2>/dev/null |
		openssl x509 -noout -serial
}
