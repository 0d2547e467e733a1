// SPDX-License-Identifier: GPL-2.0
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* ECDHE for forward secrecy, AEAD only; TLS 1.3 keeps OpenSSL's suites */
#define TLS12_CIPHERS                                                \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* a ticket outlives no key: each key reads tickets for two rotations */
#define SESSION_TIMEOUT_SECS 7200
#define TICKET_NAME_LEN 16
#define TICKET_AES_LEN 32
#define TICKET_HMAC_LEN 32

static const char *const default_alpn[] = { "http/1.1" };
static char hmac_digest[] = "SHA256";

struct ticket_key {
	unsigned char name[TICKET_NAME_LEN];
	unsigned char aes[TICKET_AES_LEN];
	unsigned char hmac[TICKET_HMAC_LEN];
};

struct xlb_tls_server {
	atomic_int refs;
	unsigned char *alpn_wire; /* length-prefixed, as TLS sends it */
	size_t alpn_len;
	xlb_tls_alpn_chosen_fn alpn_chosen;
	void *alpn_chosen_arg;
	unsigned rotate_secs;
	/* the ring below: handshakes run on several threads (the proxy's
	 * handshake workers), each may turn it or read a key */
	pthread_mutex_t ring_lock;
	struct ticket_key current;
	struct ticket_key previous;
	bool have_previous;
	int64_t rotated_at; /* CLOCK_BOOTTIME seconds */
};

static CRYPTO_ONCE srv_index_once = CRYPTO_ONCE_STATIC_INIT;
static int srv_index = -1;

/* an SSL_CTX's reference to its policy goes with the SSL_CTX */
static void srv_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	xlb_tls_server_put(ptr);
}

static void srv_index_init(void)
{
	srv_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, srv_ex_free);
}

static int64_t boot_seconds(void)
{
	struct timespec ts;

	/* BOOTTIME: a suspended host does not stretch a key's life */
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec;
}

static int ticket_key_make(struct ticket_key *k)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
		return -EIO;
	return 0;
}

/* Under ring_lock. */
static int ring_turn(struct xlb_tls_server *srv)
{
	struct ticket_key next;

	if (ticket_key_make(&next)) {
		OPENSSL_cleanse(&next, sizeof(next));
		return -EIO;
	}
	srv->previous = srv->current;
	srv->have_previous = true;
	srv->current = next;
	srv->rotated_at = boot_seconds();
	OPENSSL_cleanse(&next, sizeof(next));
	return 0;
}

int xlb_tls_server_rotate_tickets(struct xlb_tls_server *srv)
{
	int err;

	pthread_mutex_lock(&srv->ring_lock);
	err = ring_turn(srv);
	pthread_mutex_unlock(&srv->ring_lock);
	return err;
}

/* Turns the ring when due (under ring_lock). After two periods without a
 * handshake the outgoing key wrote no ticket young enough to keep: it
 * goes too. A failed turn keeps serving the old keys. */
static void rotate_if_due(struct xlb_tls_server *srv)
{
	int64_t age = boot_seconds() - srv->rotated_at;

	if (age < (int64_t)srv->rotate_secs || ring_turn(srv))
		return;
	if (age >= 2 * (int64_t)srv->rotate_secs) {
		OPENSSL_cleanse(&srv->previous, sizeof(srv->previous));
		srv->have_previous = false;
	}
}

static int ticket_mac_init(EVP_MAC_CTX *hctx, const struct ticket_key *k)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
						  sizeof(k->hmac)),
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, hmac_digest, 0),
		OSSL_PARAM_construct_end(),
	};

	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -EIO;
}

/* The key a ticket is made or opened with, copied out under the lock so
 * that the cipher work runs unlocked: 1 the current key (always, to make
 * one), 2 the previous one, 0 none (an unknown ticket). */
static int ticket_key_pick(struct xlb_tls_server *srv, bool enc, const unsigned char *name,
			   struct ticket_key *out)
{
	int which = 0;

	pthread_mutex_lock(&srv->ring_lock);
	rotate_if_due(srv);
	if (enc || memcmp(name, srv->current.name, TICKET_NAME_LEN) == 0) {
		*out = srv->current;
		which = 1;
	} else if (srv->have_previous && memcmp(name, srv->previous.name, TICKET_NAME_LEN) == 0) {
		*out = srv->previous;
		which = 2;
	}
	pthread_mutex_unlock(&srv->ring_lock);
	return which;
}

static int ticket_encrypt(const struct ticket_key *k, unsigned char *name, unsigned char *iv,
			  EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx)
{
	const EVP_CIPHER *aes = EVP_aes_256_cbc();

	memcpy(name, k->name, TICKET_NAME_LEN);
	if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1 ||
	    EVP_EncryptInit_ex(cctx, aes, NULL, k->aes, iv) != 1 || ticket_mac_init(hctx, k))
		return -1;
	return 1;
}

static int ticket_decrypt(const struct ticket_key *k, const unsigned char *iv, EVP_CIPHER_CTX *cctx,
			  EVP_MAC_CTX *hctx)
{
	if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1 ||
	    ticket_mac_init(hctx, k))
		return -1;
	return 0;
}

/* Encrypting: 1, or -1. Decrypting: 1 with the current key; 2 with the
 * previous one, so OpenSSL issues a fresh ticket; 0 for an unknown key,
 * a full handshake; -1. */
static int ticket_key_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
			 EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct xlb_tls_server *srv = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), srv_index);
	struct ticket_key k;
	int which, r;

	if (!srv)
		return enc ? -1 : 0;
	which = ticket_key_pick(srv, enc, key_name, &k);
	if (enc)
		r = ticket_encrypt(&k, key_name, iv, cctx, hctx);
	else if (which && ticket_decrypt(&k, iv, cctx, hctx))
		r = -1;
	else
		r = which;
	OPENSSL_cleanse(&k, sizeof(k));
	return r;
}

/* The server's order decides: a client listing h2 first still gets
 * http/1.1. A client that offers nothing we speak gets the
 * no_application_protocol alert RFC 7301 asks for. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	struct xlb_tls_server *srv = arg;
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, srv->alpn_wire, (unsigned)srv->alpn_len, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	if (srv->alpn_chosen && srv->alpn_chosen(ssl, sel, *outlen, srv->alpn_chosen_arg))
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

static int alpn_wire_build(struct xlb_tls_server *srv, const char *const *alpn, size_t n)
{
	size_t len = 0;
	unsigned char *p;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(alpn[i]);

		if (l == 0 || l > 255)
			return -EINVAL;
		len += 1 + l;
	}
	srv->alpn_wire = p = malloc(len);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(alpn[i]);

		*p++ = (unsigned char)l;
		memcpy(p, alpn[i], l);
		p += l;
	}
	srv->alpn_len = len;
	return 0;
}

int xlb_tls_server_new(const struct xlb_tls_server_opts *o, struct xlb_tls_server **out)
{
	static const struct xlb_tls_server_opts defaults;
	struct xlb_tls_server *srv;
	int err;

	if (!o)
		o = &defaults;
	if (!CRYPTO_THREAD_run_once(&srv_index_once, srv_index_init) || srv_index < 0)
		return -ENOMEM;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	atomic_init(&srv->refs, 1);
	pthread_mutex_init(&srv->ring_lock, NULL);
	srv->alpn_chosen = o->alpn_chosen;
	srv->alpn_chosen_arg = o->alpn_chosen_arg;
	srv->rotate_secs =
		o->ticket_rotate_secs ? o->ticket_rotate_secs : XLB_TLS_TICKET_ROTATE_SECS;
	err = o->n_alpn ? alpn_wire_build(srv, o->alpn, o->n_alpn)
			: alpn_wire_build(srv, default_alpn, 1);
	if (!err)
		err = ticket_key_make(&srv->current);
	if (err) {
		xlb_tls_server_put(srv);
		return err;
	}
	srv->rotated_at = boot_seconds();
	*out = srv;
	return 0;
}

struct xlb_tls_server *xlb_tls_server_get(struct xlb_tls_server *srv)
{
	atomic_fetch_add(&srv->refs, 1);
	return srv;
}

void xlb_tls_server_put(struct xlb_tls_server *srv)
{
	if (!srv || atomic_fetch_sub(&srv->refs, 1) != 1)
		return;
	OPENSSL_cleanse(&srv->current, sizeof(srv->current));
	OPENSSL_cleanse(&srv->previous, sizeof(srv->previous));
	pthread_mutex_destroy(&srv->ring_lock);
	free(srv->alpn_wire);
	free(srv);
}

static int apply_policy(SSL_CTX *ctx, struct xlb_tls_server *srv)
{
	static const unsigned char sid_ctx[] = "xlb";

	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		return -EIO;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* tickets carry the state: nothing to keep per session here */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, SESSION_TIMEOUT_SECS);
	/* the same on every SSL_CTX, so a switch by SNI keeps resumption */
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb) != 1)
		return -EIO;
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, srv);
	if (SSL_CTX_set_ex_data(ctx, srv_index, xlb_tls_server_get(srv)) != 1) {
		xlb_tls_server_put(srv);
		return -ENOMEM;
	}
	return 0;
}

static int use_cert(SSL_CTX *ctx, const struct xlb_tls_cert *cert)
{
	if (SSL_CTX_use_certificate(ctx, cert->leaf) != 1 ||
	    SSL_CTX_set1_chain(ctx, cert->chain) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, cert->key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		return -EIO;
	return 0;
}

SSL_CTX *xlb_tls_server_ctx(struct xlb_tls_server *srv, const struct xlb_tls_cert *cert)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	if (apply_policy(ctx, srv) || (cert && use_cert(ctx, cert))) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}
