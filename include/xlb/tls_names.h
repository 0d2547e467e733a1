/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Userspace names of enum xlb_tls_suite and enum xlb_tls_fail, as
 * xlbctl stats and the metrics print them. A suite is named as OpenSSL
 * names it (what `openssl s_client` prints after "Cipher is"). */
#ifndef XLB_TLS_NAMES_H
#define XLB_TLS_NAMES_H

#include "map_types.h"

static const char *const xlb_tls_suite_names[XLB_TLS_SUITES] = {
	[XLB_TLS13_AES_128_GCM_SHA256] = "TLS_AES_128_GCM_SHA256",
	[XLB_TLS13_AES_256_GCM_SHA384] = "TLS_AES_256_GCM_SHA384",
	[XLB_TLS13_CHACHA20_POLY1305_SHA256] = "TLS_CHACHA20_POLY1305_SHA256",
	[XLB_TLS13_OTHER] = "other",
	[XLB_TLS12_ECDHE_ECDSA_AES128_GCM_SHA256] = "ECDHE-ECDSA-AES128-GCM-SHA256",
	[XLB_TLS12_ECDHE_RSA_AES128_GCM_SHA256] = "ECDHE-RSA-AES128-GCM-SHA256",
	[XLB_TLS12_ECDHE_ECDSA_AES256_GCM_SHA384] = "ECDHE-ECDSA-AES256-GCM-SHA384",
	[XLB_TLS12_ECDHE_RSA_AES256_GCM_SHA384] = "ECDHE-RSA-AES256-GCM-SHA384",
	[XLB_TLS12_ECDHE_ECDSA_CHACHA20_POLY1305] = "ECDHE-ECDSA-CHACHA20-POLY1305",
	[XLB_TLS12_ECDHE_RSA_CHACHA20_POLY1305] = "ECDHE-RSA-CHACHA20-POLY1305",
	[XLB_TLS12_OTHER] = "other",
};

/* The version a suite belongs to, as the metrics label it. */
static inline const char *xlb_tls_suite_version(enum xlb_tls_suite s)
{
	return s <= XLB_TLS13_OTHER ? "1.3" : "1.2";
}

static const char *const xlb_tls_fail_names[XLB_TLS_FAILS] = {
	[XLB_TLS_FAIL_TIMEOUT] = "timeout",
	[XLB_TLS_FAIL_CLIENT_CLOSED] = "client_closed",
	[XLB_TLS_FAIL_PROTOCOL_VERSION] = "protocol_version",
	[XLB_TLS_FAIL_NO_SHARED_CIPHER] = "no_shared_cipher",
	[XLB_TLS_FAIL_NO_APP_PROTOCOL] = "no_application_protocol",
	[XLB_TLS_FAIL_UNRECOGNIZED_NAME] = "unrecognized_name",
	[XLB_TLS_FAIL_ALERT_FROM_CLIENT] = "alert_from_client",
	[XLB_TLS_FAIL_HANDSHAKE_LIMIT] = "handshake_limit",
	[XLB_TLS_FAIL_OTHER] = "other",
};

#endif
