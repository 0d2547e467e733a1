// SPDX-License-Identifier: GPL-2.0
#include "tls_outcome.h"

#include <errno.h>
#include <stdbool.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

/* IANA numbers of the suites xlb's policy allows (RFC 8446 B.4,
 * RFC 5289, RFC 7905) */
#define TLS13_AES_128_GCM_SHA256 0x1301
#define TLS13_AES_256_GCM_SHA384 0x1302
#define TLS13_CHACHA20_POLY1305_SHA256 0x1303
#define ECDHE_ECDSA_AES128_GCM_SHA256 0xc02b
#define ECDHE_ECDSA_AES256_GCM_SHA384 0xc02c
#define ECDHE_RSA_AES128_GCM_SHA256 0xc02f
#define ECDHE_RSA_AES256_GCM_SHA384 0xc030
#define ECDHE_RSA_CHACHA20_POLY1305 0xcca8
#define ECDHE_ECDSA_CHACHA20_POLY1305 0xcca9

static CRYPTO_ONCE alerts_index_once = CRYPTO_ONCE_STATIC_INIT;
static int alerts_index = -1;

static void alerts_index_init(void)
{
	alerts_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* OpenSSL's ret for an alert: the level in the high byte, the
 * description in the low one. A client's close_notify is kept too: it is
 * how a polite client gives up. */
static void on_info(const SSL *ssl, int where, int ret)
{
	struct xlb_tls_alerts *a;
	int level = (ret >> 8) & 0xff, desc = ret & 0xff;

	if (!(where & SSL_CB_ALERT) || !(a = SSL_get_ex_data(ssl, alerts_index)))
		return;
	if (where & SSL_CB_WRITE) {
		if (level == SSL3_AL_FATAL)
			a->sent = desc;
	} else if (level == SSL3_AL_FATAL || desc == SSL_AD_CLOSE_NOTIFY) {
		a->received = desc;
	}
}

int xlb_tls_alerts_watch(SSL *ssl, struct xlb_tls_alerts *a)
{
	*a = (struct xlb_tls_alerts){ .sent = -1, .received = -1 };
	if (!CRYPTO_THREAD_run_once(&alerts_index_once, alerts_index_init) || alerts_index < 0 ||
	    !SSL_set_ex_data(ssl, alerts_index, a))
		return -ENOMEM;
	SSL_set_info_callback(ssl, on_info);
	return 0;
}

void xlb_tls_alerts_unwatch(SSL *ssl)
{
	if (!ssl || alerts_index < 0)
		return;
	SSL_set_info_callback(ssl, NULL);
	SSL_set_ex_data(ssl, alerts_index, NULL);
}

void xlb_tls_end_read(SSL *ssl, int r, const struct xlb_tls_alerts *a, struct xlb_tls_end *end)
{
	end->ssl_error = SSL_get_error(ssl, r);
	end->err = ERR_peek_last_error();
	end->alerts = *a;
}

/* Reasons OpenSSL gives when the two sides have no parameters in common. */
static bool no_shared_params(int reason)
{
	switch (reason) {
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_NO_SUITABLE_KEY_SHARE:
		return true;
	}
	return false;
}

static bool protocol_refused(int reason)
{
	return reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_VERSION_TOO_LOW;
}

/* The alert xlb sent says what OpenSSL decided; the error queue's reason
 * tells the cases whose alert is the generic handshake_failure. */
static enum xlb_tls_fail fail_by_own_alert(int alert, int reason)
{
	if (alert == SSL_AD_PROTOCOL_VERSION || protocol_refused(reason))
		return XLB_TLS_FAIL_PROTOCOL_VERSION;
	if (alert == SSL_AD_UNRECOGNIZED_NAME)
		return XLB_TLS_FAIL_UNRECOGNIZED_NAME;
	if (alert == SSL_AD_NO_APPLICATION_PROTOCOL || reason == SSL_R_NO_APPLICATION_PROTOCOL)
		return XLB_TLS_FAIL_NO_APP_PROTOCOL;
	if (no_shared_params(reason))
		return XLB_TLS_FAIL_NO_SHARED_CIPHER;
	return XLB_TLS_FAIL_OTHER;
}

enum xlb_tls_fail xlb_tls_fail_of(const struct xlb_tls_end *end)
{
	int reason =
		end->err && ERR_GET_LIB(end->err) == ERR_LIB_SSL ? ERR_GET_REASON(end->err) : 0;

	if (end->alerts.received == SSL_AD_CLOSE_NOTIFY)
		return XLB_TLS_FAIL_CLIENT_CLOSED;
	if (end->alerts.received >= 0)
		return XLB_TLS_FAIL_ALERT_FROM_CLIENT;
	/* a FIN or a reset without an alert: SYSCALL, or OpenSSL 3's
	 * unexpected EOF; ZERO_RETURN is a close_notify seen as such */
	if (end->ssl_error == SSL_ERROR_ZERO_RETURN || end->ssl_error == SSL_ERROR_SYSCALL ||
	    reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return XLB_TLS_FAIL_CLIENT_CLOSED;
	return fail_by_own_alert(end->alerts.sent, reason);
}

static enum xlb_tls_suite tls13_suite(uint16_t id)
{
	switch (id) {
	case TLS13_AES_128_GCM_SHA256:
		return XLB_TLS13_AES_128_GCM_SHA256;
	case TLS13_AES_256_GCM_SHA384:
		return XLB_TLS13_AES_256_GCM_SHA384;
	case TLS13_CHACHA20_POLY1305_SHA256:
		return XLB_TLS13_CHACHA20_POLY1305_SHA256;
	}
	return XLB_TLS13_OTHER;
}

static enum xlb_tls_suite tls12_suite(uint16_t id)
{
	switch (id) {
	case ECDHE_ECDSA_AES128_GCM_SHA256:
		return XLB_TLS12_ECDHE_ECDSA_AES128_GCM_SHA256;
	case ECDHE_RSA_AES128_GCM_SHA256:
		return XLB_TLS12_ECDHE_RSA_AES128_GCM_SHA256;
	case ECDHE_ECDSA_AES256_GCM_SHA384:
		return XLB_TLS12_ECDHE_ECDSA_AES256_GCM_SHA384;
	case ECDHE_RSA_AES256_GCM_SHA384:
		return XLB_TLS12_ECDHE_RSA_AES256_GCM_SHA384;
	case ECDHE_ECDSA_CHACHA20_POLY1305:
		return XLB_TLS12_ECDHE_ECDSA_CHACHA20_POLY1305;
	case ECDHE_RSA_CHACHA20_POLY1305:
		return XLB_TLS12_ECDHE_RSA_CHACHA20_POLY1305;
	}
	return XLB_TLS12_OTHER;
}

/* The policy's lowest version is TLS 1.2: whatever is not 1.3 counts
 * there. */
enum xlb_tls_suite xlb_tls_suite_of(int version, uint16_t cipher_id)
{
	return version == TLS1_3_VERSION ? tls13_suite(cipher_id) : tls12_suite(cipher_id);
}

enum xlb_tls_suite xlb_tls_suite_of_ssl(const SSL *ssl)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

	return xlb_tls_suite_of(SSL_version(ssl), c ? SSL_CIPHER_get_protocol_id(c) : 0);
}
