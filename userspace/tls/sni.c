// SPDX-License-Identifier: GPL-2.0
#include "sni.h"

/* Runs in a handshake, on whichever thread handshakes: the pick holds a
 * reference of its own until the connection has taken one (a reload on
 * the store's thread may drop the store's in between). */
int xlb_tls_sni_switch(SSL *ssl, const struct xlb_certs *store, const char *sni, int *alert)
{
	SSL_CTX *ctx = xlb_certs_pick_ref(store, sni);
	int r = SSL_TLSEXT_ERR_OK;

	if (!ctx) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	/* the connection takes its own reference: a reload that drops this
	 * SSL_CTX from the store leaves the handshake whole */
	if (SSL_set_SSL_CTX(ssl, ctx) != ctx) {
		*alert = SSL_AD_INTERNAL_ERROR;
		r = SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	SSL_CTX_free(ctx);
	return r;
}

/* OpenSSL calls this also when the client sent no SNI: it gets the
 * default certificate then. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	return xlb_tls_sni_switch(ssl, arg, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
				  alert);
}

SSL_CTX *xlb_tls_sni_ctx_new(struct xlb_tls_server *srv, const struct xlb_certs *store)
{
	SSL_CTX *ctx = xlb_tls_server_ctx(srv, NULL);

	if (!ctx)
		return NULL;
	SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
	/* OpenSSL's argument is not const; the callback only reads */
	SSL_CTX_set_tlsext_servername_arg(ctx, (void *)store);
	return ctx;
}
