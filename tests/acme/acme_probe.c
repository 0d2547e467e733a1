// SPDX-License-Identifier: GPL-2.0
/* End-to-end check of the ACME client against a real Pebble, driven by
 * tests/acme/pebble.sh. It plays the daemon's part: answers HTTP-01 with
 * libmicrohttpd and TLS-ALPN-01 with a small OpenSSL server, both from
 * the library's challenge table, takes the certificates from the
 * worker's fd, and checks each against Pebble's root.
 *
 *   --mode issue: gets a certificate for --http-name by HTTP-01 and one
 *     for --alpn-name by TLS-ALPN-01, renews the first, drops the second
 *     from the set; requires 3 orders and 3 distinct serials.
 *   --mode again: the same names and state dir; requires both
 *     certificates from the state dir and no order at all.
 *
 * Built by the Makefile as BUILD/acme_probe (`make test` builds it);
 * tests/bats/acme_client.bats runs pebble.sh with it. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "acme/acme.h"
#include "lib/log.h"

#define WAIT_SECS 180

struct opts {
	struct xlb_acme_config cfg;
	const char *roots_url;
	const char *http_name;
	const char *alpn_name;
	const char *mode;
	int http_port;
	int tls_port;
};

struct tls_server {
	struct xlb_acme_challs *challs;
	SSL_CTX *ctx;
	int fd;
	atomic_bool stop;
	pthread_t thread;
};

static void die(const char *what)
{
	fprintf(stderr, "probe: FAIL %s\n", what);
	exit(1);
}

/* --- HTTP-01: what the HTTP listener does before any routing --------- */

static enum MHD_Result on_http(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_len, void **con_cls)
{
	const size_t plen = strlen(XLB_ACME_HTTP01_PREFIX);
	struct MHD_Response *resp;
	char body[512];
	unsigned status = MHD_HTTP_NOT_FOUND;
	enum MHD_Result ret;

	(void)version, (void)upload, (void)upload_len, (void)con_cls;
	body[0] = '\0';
	if (strcmp(method, "GET") == 0 && strncmp(url, XLB_ACME_HTTP01_PREFIX, plen) == 0 &&
	    xlb_acme_http01_lookup(cls, url + plen, body, sizeof(body)) == 0)
		status = MHD_HTTP_OK;
	printf("probe: http-01 request path=%s status=%u\n", url, status);
	fflush(stdout);
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* --- TLS-ALPN-01: what the TLS listener does on ALPN acme-tls/1 ------ */

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char acme[] = "\x0a" XLB_ACME_ALPN;
	unsigned char *sel;

	(void)ssl, (void)arg;
	if (SSL_select_next_proto(&sel, outlen, acme, sizeof(acme) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static int on_sni(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *s = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int ok;

	(void)alert;
	if (!name || xlb_acme_tlsalpn01_lookup(s->challs, name, &x, &key))
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	ok = SSL_use_certificate(ssl, x) == 1 && SSL_use_PrivateKey(ssl, key) == 1;
	X509_free(x);
	EVP_PKEY_free(key);
	printf("probe: tls-alpn-01 handshake sni=%s cert=%s\n", name, ok ? "yes" : "no");
	fflush(stdout);
	return ok ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void serve_one(struct tls_server *s, int fd)
{
	struct timeval tv = { 5, 0 };
	SSL *ssl = SSL_new(s->ctx);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1)
		SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
}

static void *tls_loop(void *arg)
{
	struct tls_server *s = arg;
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	int fd;

	while (!atomic_load(&s->stop)) {
		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept(s->fd, NULL, NULL);
		if (fd >= 0)
			serve_one(s, fd);
	}
	return NULL;
}

static int listen_tcp(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16))
		die("tls listen");
	return fd;
}

static void tls_start(struct tls_server *s, struct xlb_acme_challs *challs, int port)
{
	s->challs = challs;
	s->ctx = SSL_CTX_new(TLS_server_method());
	if (!s->ctx)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_select_cb(s->ctx, on_alpn, s);
	SSL_CTX_set_tlsext_servername_callback(s->ctx, on_sni);
	SSL_CTX_set_tlsext_servername_arg(s->ctx, s);
	s->fd = listen_tcp(port);
	if (pthread_create(&s->thread, NULL, tls_loop, s))
		die("tls thread");
}

static void tls_stop(struct tls_server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd);
	SSL_CTX_free(s->ctx);
}

/* --- checking what comes out ----------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	fwrite(data, size, n, arg);
	return size * n;
}

/* Pebble makes a new root at every start; fetch the one of this run. */
static X509 *fetch_root(const struct opts *o)
{
	char *pem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&pem, &len);
	CURL *c = curl_easy_init();
	X509 *root = NULL;
	BIO *b;

	curl_easy_setopt(c, CURLOPT_URL, o->roots_url);
	curl_easy_setopt(c, CURLOPT_CAINFO, o->cfg.ca_file);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	if (curl_easy_perform(c))
		die("fetching the root");
	curl_easy_cleanup(c);
	fclose(f);
	b = BIO_new_mem_buf(pem, (int)len);
	root = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	free(pem);
	if (!root)
		die("parsing the root");
	return root;
}

static STACK_OF(X509) * read_chain(const char *pem)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x;

	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		sk_X509_push(chain, x);
	ERR_clear_error();
	BIO_free(b);
	return chain;
}

/* The chain leads from the leaf to the root, and the leaf is for name. */
static int verify_cert(X509 *root, const struct xlb_acme_cert *c)
{
	STACK_OF(X509) *chain = read_chain(c->chain_pem);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = sk_X509_value(chain, 0);
	int ok;

	X509_STORE_add_cert(store, root);
	X509_STORE_CTX_init(ctx, store, leaf, chain);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	ok = X509_verify_cert(ctx) == 1 && X509_check_host(leaf, c->name, 0, 0, NULL) == 1;
	if (!ok)
		fprintf(stderr, "probe: verify name=%s err=\"%s\"\n", c->name,
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	printf("probe: cert name=%s serial=%s source=%s chain=%d verified=%s\n", c->name, c->serial,
	       c->from_state ? "state" : "issued", sk_X509_num(chain), ok ? "yes" : "no");
	fflush(stdout);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(chain, X509_free);
	return ok;
}

/* Waits for the next certificate from the worker, as the loop would. */
static struct xlb_acme_cert *next_cert(struct xlb_acme *a)
{
	struct pollfd p = { .fd = xlb_acme_fd(a), .events = POLLIN };
	time_t deadline = time(NULL) + WAIT_SECS;
	struct xlb_acme_cert *c;

	while (!(c = xlb_acme_take(a))) {
		if (time(NULL) > deadline)
			die("no certificate in time");
		poll(&p, 1, 1000);
	}
	return c;
}

/* The certificates of names[], in any order; serials[] gets theirs. */
static void collect(struct xlb_acme *a, X509 *root, const char **names, size_t n,
		    char serials[][XLB_ACME_SERIAL_LEN], int want_from_state)
{
	for (size_t got = 0; got < n; got++) {
		struct xlb_acme_cert *c = next_cert(a);
		size_t i = 0;

		while (i < n && strcmp(names[i], c->name))
			i++;
		if (i == n || !verify_cert(root, c) || c->from_state != want_from_state)
			die("certificate");
		snprintf(serials[i], XLB_ACME_SERIAL_LEN, "%s", c->serial);
		xlb_acme_cert_free(c);
	}
}

static void print_stats(struct xlb_acme *a, struct xlb_acme_stats *s)
{
	xlb_acme_get_stats(a, s);
	printf("probe: stats orders=%u issued=%u failures=%u loaded=%u bad_nonce_retries=%u\n",
	       s->orders, s->issued, s->failures, s->loaded, s->bad_nonces);
	fflush(stdout);
}

static void run_issue(const struct opts *o, struct xlb_acme *a, X509 *root)
{
	const struct xlb_acme_name both[] = { { o->http_name, XLB_ACME_HTTP01 },
					      { o->alpn_name, XLB_ACME_TLSALPN01 } };
	const char *names[] = { o->http_name, o->alpn_name };
	char serials[2][XLB_ACME_SERIAL_LEN], renewed[1][XLB_ACME_SERIAL_LEN];
	struct xlb_acme_stats s;

	if (xlb_acme_set_names(a, both, 2))
		die("set_names");
	collect(a, root, names, 2, serials, 0);
	if (!strcmp(serials[0], serials[1]))
		die("two names, one serial");
	printf("probe: renewing name=%s old_serial=%s\n", o->http_name, serials[0]);
	if (xlb_acme_renew(a, o->http_name))
		die("renew");
	collect(a, root, names, 1, renewed, 0);
	if (!strcmp(renewed[0], serials[0]))
		die("the renewal kept the serial");
	/* a name no service claims any more is not renewed */
	if (xlb_acme_set_names(a, both, 1) || xlb_acme_renew(a, o->alpn_name) != -ENOENT)
		die("a dropped name can still be renewed");
	printf("probe: dropped name=%s renew=ENOENT\n", o->alpn_name);
	print_stats(a, &s);
	if (s.orders != 3 || s.issued != 3 || s.failures)
		die("stats");
}

static void run_again(const struct opts *o, struct xlb_acme *a, X509 *root)
{
	const struct xlb_acme_name both[] = { { o->http_name, XLB_ACME_HTTP01 },
					      { o->alpn_name, XLB_ACME_TLSALPN01 } };
	const char *names[] = { o->http_name, o->alpn_name };
	char serials[2][XLB_ACME_SERIAL_LEN];
	struct xlb_acme_stats s;

	if (xlb_acme_set_names(a, both, 2))
		die("set_names");
	collect(a, root, names, 2, serials, 1);
	sleep(3); /* room for an order that should not come */
	print_stats(a, &s);
	if (s.orders != 0 || s.loaded != 2)
		die("a restart with valid certificates ordered again");
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "directory", 1, NULL, 'd' }, { "ca", 1, NULL, 'c' },
		{ "state", 1, NULL, 's' },     { "email", 1, NULL, 'e' },
		{ "roots", 1, NULL, 'r' },     { "http-name", 1, NULL, 'H' },
		{ "alpn-name", 1, NULL, 'A' }, { "http-port", 1, NULL, 'p' },
		{ "tls-port", 1, NULL, 't' },  { "mode", 1, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->cfg.directory_url = optarg;
			break;
		case 'c':
			o->cfg.ca_file = optarg;
			break;
		case 's':
			o->cfg.state_dir = optarg;
			break;
		case 'e':
			o->cfg.contact = optarg;
			break;
		case 'r':
			o->roots_url = optarg;
			break;
		case 'H':
			o->http_name = optarg;
			break;
		case 'A':
			o->alpn_name = optarg;
			break;
		case 'p':
			o->http_port = atoi(optarg);
			break;
		case 't':
			o->tls_port = atoi(optarg);
			break;
		case 'm':
			o->mode = optarg;
			break;
		default:
			die("usage");
		}
	}
	if (!o->cfg.directory_url || !o->cfg.state_dir || !o->roots_url || !o->http_name ||
	    !o->alpn_name || !o->mode || !o->http_port || !o->tls_port)
		die("usage: --directory --ca --state --roots --http-name --alpn-name "
		    "--http-port --tls-port --mode issue|again [--email]");
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct tls_server tls = { 0 };
	struct MHD_Daemon *httpd;
	struct xlb_acme *a;
	X509 *root;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* the validation server may close before our close_notify, as xlbd
	 * ignores SIGPIPE too */
	signal(SIGPIPE, SIG_IGN);
	xlb_log_set_prog("acme_probe");
	parse_opts(argc, argv, &o);
	if (xlb_acme_start(&o.cfg, &a))
		die("xlb_acme_start");
	root = fetch_root(&o);
	httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
				 (uint16_t)o.http_port, NULL, NULL, on_http, xlb_acme_challs(a),
				 MHD_OPTION_END);
	if (!httpd)
		die("http listen");
	tls_start(&tls, xlb_acme_challs(a), o.tls_port);
	if (strcmp(o.mode, "issue") == 0)
		run_issue(&o, a, root);
	else
		run_again(&o, a, root);
	xlb_acme_stop(a);
	tls_stop(&tls);
	MHD_stop_daemon(httpd);
	X509_free(root);
	printf("probe: OK mode=%s\n", o.mode);
	return 0;
}
