#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Captures real TLS ClientHellos into tests/fuzz/corpus/tls/: a listener on
# 127.0.0.1 records the bytes a client sends until its first ClientHello is
# complete, then hangs up. The clients are the ones xlb meets in practice:
#   openssl_sni.bin     openssl s_client -servername api.app.dev
#   openssl_nosni.bin   openssl s_client -noservername (no server_name at all)
#   openssl_tls12.bin   openssl s_client -tls1_2 -servername api.app.dev
#   curl_sni.bin        curl https://app.app.dev:PORT/ (--resolve to 127.0.0.1)
#   chromium_pq.bin     headless Chromium to pq.app.dev: an X25519MLKEM768
#                       key share makes it ~1.8 KB, more than one TCP segment
#                       on a 1500-byte MTU
# The unit tests (tests/unit/test_peek_tls.c) read these files. Not run by CI:
# it needs chromium (apt-get install chromium) and takes ~20 s.
# usage: tests/fuzz/capture_clienthello.sh [OUT_DIR]
set -euo pipefail

OUT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/corpus/tls}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The listener: binds an ephemeral port, writes it to PORT_FILE, accepts one
# connection and saves what arrives up to the end of the first handshake
# message (records are reassembled only to know when to stop; the file holds
# the raw bytes as sent).
LISTENER='
import socket, struct, sys
out, port_file = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
open(port_file, "w").write(str(srv.getsockname()[1]))
srv.settimeout(30)
conn, _ = srv.accept()
conn.settimeout(10)
raw, hs, pos = b"", b"", 0
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    raw += chunk
    while len(raw) - pos >= 5:
        rlen = struct.unpack("!H", raw[pos + 3:pos + 5])[0]
        if len(raw) - pos < 5 + rlen:
            break
        hs += raw[pos + 5:pos + 5 + rlen]
        pos += 5 + rlen
    if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
        break
open(out, "wb").write(raw[:pos])
conn.close()
'

# capture NAME CMD...: runs CMD with PORT in its arguments replaced by the
# listener's port, and stores the ClientHello as OUT/NAME.
capture() {
	local name=$1 port_file=$WORK/$1.port lpid cpid i
	shift
	python3 -c "$LISTENER" "$WORK/$name" "$port_file" &
	lpid=$!
	for ((i = 0; i < 50; i++)); do
		[[ -s $port_file ]] && break
		sleep 0.1
	done
	local port
	port=$(cat "$port_file")
	setsid "${@//PORT/$port}" </dev/null >"$WORK/$name.log" 2>&1 &
	cpid=$!
	wait "$lpid" || { echo "capture $name: listener failed" >&2; exit 1; }
	kill -- "-$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	install -m 0644 "$WORK/$name" "$OUT/$name"
	echo "capture $name: $(stat -c %s "$OUT/$name") bytes"
}

main() {
	mkdir -p "$OUT"
	capture openssl_sni.bin openssl s_client -connect 127.0.0.1:PORT -servername api.app.dev
	capture openssl_nosni.bin openssl s_client -connect 127.0.0.1:PORT -noservername
	capture openssl_tls12.bin openssl s_client -connect 127.0.0.1:PORT -tls1_2 \
		-servername api.app.dev
	capture curl_sni.bin curl -sk --max-time 10 https://app.app.dev:PORT/ \
		--resolve app.app.dev:PORT:127.0.0.1
	local profile=$WORK/chromium-profile
	capture chromium_pq.bin chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$profile" --host-resolver-rules='MAP pq.app.dev 127.0.0.1' \
		https://pq.app.dev:PORT/
}

main "$@"
