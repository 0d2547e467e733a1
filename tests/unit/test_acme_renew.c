// SPDX-License-Identifier: GPL-2.0
/* The schedule (renewal at two thirds of the lifetime, the backoff after
 * failures) and the state dir (modes, round trips, damaged files). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "acme/cert.h"
#include "acme/jws.h"
#include "acme/renew.h"
#include "acme/state.h"
#include "acme/tlsalpn.h"

#define DAY (24 * 3600L)

static void test_renew_at_two_thirds(void **state)
{
	(void)state;
	/* a 90-day certificate renews on day 60 */
	assert_int_equal(xlb_acme_renew_at(1000, 1000 + 90 * DAY), 1000 + 60 * DAY);
	assert_int_equal(xlb_acme_renew_at(0, 3), 2);
	assert_int_equal(xlb_acme_renew_at(0, 4), 2);
	assert_int_equal(xlb_acme_renew_at(0, 5), 3);
	/* nonsense times: renew at once */
	assert_int_equal(xlb_acme_renew_at(500, 500), 500);
	assert_int_equal(xlb_acme_renew_at(500, 100), 500);
}

static void test_retry_backoff(void **state)
{
	(void)state;
	assert_int_equal(xlb_acme_retry_at(1000, 1), 1000 + 60);
	assert_int_equal(xlb_acme_retry_at(1000, 2), 1000 + 120);
	assert_int_equal(xlb_acme_retry_at(1000, 3), 1000 + 240);
	assert_int_equal(xlb_acme_retry_at(1000, 11), 1000 + 60 * 1024);
	assert_int_equal(xlb_acme_retry_at(1000, 12), 1000 + XLB_ACME_RETRY_MAX_SECS);
	assert_int_equal(xlb_acme_retry_at(1000, 4000000000u), 1000 + XLB_ACME_RETRY_MAX_SECS);
}

static void test_next_attempt(void **state)
{
	time_t nb = 0, na = 90 * DAY;

	(void)state;
	/* no certificate, no failure: now */
	assert_int_equal(xlb_acme_next_attempt(5000, 0, 0, 0, 0, 0), 5000);
	/* a certificate: its renewal time, even when that has passed */
	assert_int_equal(xlb_acme_next_attempt(5000, 1, nb, na, 0, 0), 60 * DAY);
	assert_int_equal(xlb_acme_next_attempt(80 * DAY, 1, nb, na, 0, 0), 60 * DAY);
	/* failed renewals wait out the backoff, the old certificate kept */
	assert_int_equal(xlb_acme_next_attempt(61 * DAY, 1, nb, na, 3, 61 * DAY), 61 * DAY + 240);
	/* no certificate and a failure: the backoff */
	assert_int_equal(xlb_acme_next_attempt(100, 0, 0, 0, 1, 100), 160);
}

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_acme_renew.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* the state dir is made inside, to see its mode set */
	strcat(f->dir, "/s");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	*strrchr(f->dir, '/') = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static mode_t mode_of(const char *dir, const char *file)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* A certificate with a key that matches, and its PEM forms */
static struct xlb_acme_cert *make_cert(const char *name)
{
	struct xlb_acme_cert *c = calloc(1, sizeof(*c));
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;

	assert_int_equal(xlb_acme_tlsalpn_cert(name, "t.k", &x, &key), 0);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	len = BIO_get_mem_data(b, &data);
	c->chain_pem = strndup(data, (size_t)len);
	c->key_pem = xlb_acme_key_pem(key);
	c->name = strdup(name);
	assert_int_equal(xlb_acme_cert_parse(c), 0);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);
	return c;
}

static void test_state_modes_and_account(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *key = xlb_jws_keygen(), *back = NULL;
	char *url = NULL;

	assert_int_equal(xlb_acme_state_load_key(f->dir, &back), -ENOENT);
	assert_int_equal(xlb_acme_state_init(f->dir), 0);
	assert_int_equal(mode_of(f->dir, "."), 0700);
	assert_int_equal(mode_of(f->dir, "certs"), 0700);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(xlb_acme_state_init(f->dir), 0); /* narrowed again */
	assert_int_equal(mode_of(f->dir, "."), 0700);
	assert_int_equal(xlb_acme_state_save_key(f->dir, key), 0);
	assert_int_equal(mode_of(f->dir, "account.key"), 0600);
	assert_int_equal(xlb_acme_state_load_key(f->dir, &back), 0);
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	assert_int_equal(xlb_acme_state_load_url(f->dir, &url), -ENOENT);
	assert_int_equal(xlb_acme_state_save_url(f->dir, "https://ca/acct/7"), 0);
	assert_int_equal(xlb_acme_state_load_url(f->dir, &url), 0);
	assert_string_equal(url, "https://ca/acct/7");
	free(url);
	EVP_PKEY_free(back);
	EVP_PKEY_free(key);
}

static void test_state_cert_round_trip(void **state)
{
	struct fixture *f = *state;
	struct xlb_acme_cert *c = make_cert("api.example.test"), *back = NULL;

	assert_int_equal(xlb_acme_state_init(f->dir), 0);
	assert_int_equal(xlb_acme_state_load_cert(f->dir, "api.example.test", &back), -ENOENT);
	assert_int_equal(xlb_acme_state_save_cert(f->dir, c), 0);
	assert_int_equal(mode_of(f->dir, "certs/api.example.test.pem"), 0600);
	assert_int_equal(xlb_acme_state_load_cert(f->dir, "api.example.test", &back), 0);
	assert_true(back->from_state);
	assert_string_equal(back->serial, c->serial);
	assert_int_equal(back->not_before, c->not_before);
	assert_int_equal(back->not_after, c->not_after);
	assert_string_equal(back->chain_pem, c->chain_pem);
	assert_string_equal(back->key_pem, c->key_pem);
	assert_true(c->not_after > c->not_before);
	xlb_acme_cert_free(back);
	xlb_acme_cert_free(c);
}

static void test_state_rejects(void **state)
{
	struct fixture *f = *state;
	struct xlb_acme_cert *a = make_cert("a.example.test"), *b = make_cert("b.example.test");
	struct xlb_acme_cert *back = NULL;
	char path[256];
	FILE *fp;

	assert_int_equal(xlb_acme_state_init(f->dir), 0);
	/* a key that is not the leaf's */
	free(a->key_pem);
	a->key_pem = strdup(b->key_pem);
	assert_int_equal(xlb_acme_cert_parse(a), -EINVAL);
	assert_int_equal(xlb_acme_state_save_cert(f->dir, a), 0);
	assert_int_equal(xlb_acme_state_load_cert(f->dir, "a.example.test", &back), -EINVAL);
	/* a damaged file */
	snprintf(path, sizeof(path), "%s/certs/b.example.test.pem", f->dir);
	fp = fopen(path, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnonsense\n", fp);
	fclose(fp);
	assert_int_equal(xlb_acme_state_load_cert(f->dir, "b.example.test", &back), -EINVAL);
	/* names that would leave certs/ */
	assert_int_equal(xlb_acme_state_load_cert(f->dir, "../account", &back), -EINVAL);
	free(a->name);
	a->name = strdup("x/y");
	assert_int_equal(xlb_acme_state_save_cert(f->dir, a), -EINVAL);
	xlb_acme_cert_free(a);
	xlb_acme_cert_free(b);
}

static void test_name_ok(void **state)
{
	char label64[80];

	(void)state;
	assert_true(xlb_acme_name_ok("a.example.test"));
	assert_true(xlb_acme_name_ok("x-1.b2"));
	assert_true(xlb_acme_name_ok("localhost"));
	assert_false(xlb_acme_name_ok(""));
	assert_false(xlb_acme_name_ok(".a"));
	assert_false(xlb_acme_name_ok("a..b"));
	assert_false(xlb_acme_name_ok("a."));
	assert_false(xlb_acme_name_ok("-a.b"));
	assert_false(xlb_acme_name_ok("a-.b"));
	assert_false(xlb_acme_name_ok("*.a.b"));
	assert_false(xlb_acme_name_ok("a/b"));
	assert_false(xlb_acme_name_ok(".."));
	memset(label64, 'a', 64);
	label64[64] = '\0';
	assert_false(xlb_acme_name_ok(label64));
	label64[63] = '\0';
	assert_true(xlb_acme_name_ok(label64));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renew_at_two_thirds),
		cmocka_unit_test(test_retry_backoff),
		cmocka_unit_test(test_next_attempt),
		cmocka_unit_test(test_name_ok),
		cmocka_unit_test_setup_teardown(test_state_modes_and_account, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_cert_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_rejects, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
