// SPDX-License-Identifier: GPL-2.0
/* What the proxy's handshake workers share, used from several threads at
 * once as xlbd does it: handshakes in memory on the SNI context (the
 * servername callback picks from the store, tickets are made and opened
 * with the policy's key ring) while the main thread, the loop's stand-in,
 * replaces, adds and removes certificates and turns the ring. Run under
 * ASan (make test-unit), a pick of a freed SSL_CTX or a key read while it
 * turns shows as an error; the counts show that both sides ran. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls/certs.h"
#include "tls/server.h"
#include "tls/sni.h"

#define THREADS 2
#define RUN_MS 1000

/* A self-signed P-256 certificate for name and its key, as one PEM. */
static char *make_pem(const char *name, size_t *len)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char san[128], *data, *out;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	long n;

	assert_non_null(key);
	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	snprintf(san, sizeof(san), "DNS:%s", name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	assert_int_equal(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &data);
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);
	return out;
}

struct shared {
	SSL_CTX *front; /* the SNI context: what the proxy accepts on */
	SSL_CTX *client;
	atomic_bool stop;
	atomic_ulong handshakes, resumed, failed;
};

/* One handshake in memory, resuming sess when given; the client's new
 * session (from the server's ticket) or NULL. On a thread of its own:
 * no cmocka assertion here, a failure is counted. */
static SSL_SESSION *handshake(struct shared *sh, SSL_SESSION *sess)
{
	SSL *server = SSL_new(sh->front), *client = SSL_new(sh->client);
	SSL_SESSION *next = NULL;
	BIO *sb, *cb;
	char buf[16];
	int done = 0;

	if (!server || !client || BIO_new_bio_pair(&sb, 0, &cb, 0) != 1) {
		atomic_fetch_add(&sh->failed, 1);
		SSL_free(server);
		SSL_free(client);
		return NULL;
	}
	SSL_set_bio(server, sb, sb);
	SSL_set_bio(client, cb, cb);
	SSL_set_tlsext_host_name(client, "a.test");
	if (sess)
		SSL_set_session(client, sess);
	for (int i = 0; i < 20 && done != 1; i++) {
		SSL_connect(client);
		done = SSL_accept(server);
	}
	if (done == 1) {
		/* the client reads the tickets the server sent after its Finished */
		SSL_read(client, buf, sizeof(buf));
		atomic_fetch_add(&sh->handshakes, 1);
		if (SSL_session_reused(server))
			atomic_fetch_add(&sh->resumed, 1);
		next = SSL_get1_session(client);
		/* a connection freed unclosed spoils its session for resumption */
		SSL_shutdown(client);
	} else {
		atomic_fetch_add(&sh->failed, 1);
	}
	SSL_free(server);
	SSL_free(client);
	ERR_clear_error();
	return next;
}

static void *worker(void *arg)
{
	struct shared *sh = arg;
	SSL_SESSION *sess = NULL;

	/* every other handshake resumes: tickets opened as well as made */
	while (!atomic_load(&sh->stop)) {
		SSL_SESSION *next = handshake(sh, sess);

		if (sess) {
			SSL_SESSION_free(sess);
			SSL_SESSION_free(next);
			sess = NULL;
		} else {
			sess = next;
		}
	}
	SSL_SESSION_free(sess);
	ERR_clear_error();
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_handshakes_while_the_store_changes(void **state)
{
	struct xlb_tls_server *srv;
	struct xlb_certs *store;
	struct shared sh = { 0 };
	pthread_t t[THREADS];
	size_t a_len, b_len;
	char *a = make_pem("a.test", &a_len), *b = make_pem("b.test", &b_len);
	unsigned long changes = 0;
	uint64_t end;

	(void)state;
	assert_int_equal(xlb_tls_server_new(NULL, &srv), 0);
	assert_int_equal(xlb_certs_new(srv, NULL, &store), 0);
	assert_int_equal(xlb_certs_add_pem(store, "mem", a, a_len, 0), 0);
	sh.front = xlb_tls_sni_ctx_new(srv, store);
	sh.client = SSL_CTX_new(TLS_client_method());
	assert_non_null(sh.front);
	assert_non_null(sh.client);
	SSL_CTX_set_session_cache_mode(sh.client, SSL_SESS_CACHE_CLIENT);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &sh), 0);
	/* a.test replaced (its SSL_CTX freed by the store), b.test coming and
	 * going (the index rebuilt), the ticket ring turning (not so often
	 * that no ticket lives to be opened: the ring keeps two keys) */
	for (end = now_ms() + RUN_MS; now_ms() < end; changes++) {
		assert_int_equal(xlb_certs_add_pem(store, "mem", a, a_len, 0), 0);
		assert_int_equal(xlb_certs_add_pem(store, "mem", b, b_len, 0), 0);
		assert_int_equal(xlb_certs_remove_pem(store, "mem", "b.test"), 0);
		if (changes % 4 == 3)
			assert_int_equal(xlb_tls_server_rotate_tickets(srv), 0);
	}
	atomic_store(&sh.stop, true);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	print_message("%lu handshakes (%lu resumed, %lu failed) during %lu changes of the store\n",
		      atomic_load(&sh.handshakes), atomic_load(&sh.resumed),
		      atomic_load(&sh.failed), changes);
	assert_int_equal(atomic_load(&sh.failed), 0);
	assert_true(atomic_load(&sh.handshakes) > THREADS);
	assert_true(atomic_load(&sh.resumed) > 0);
	assert_true(changes > 1);
	SSL_CTX_free(sh.front);
	SSL_CTX_free(sh.client);
	xlb_certs_free(store);
	xlb_tls_server_put(srv);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshakes_while_the_store_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
