// SPDX-License-Identifier: GPL-2.0
#include "state.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

/* far above a key and a chain of a few certificates */
#define STATE_FILE_MAX (1 << 20)
#define PEM_CERT_BEGIN "-----BEGIN CERTIFICATE-----"

bool xlb_acme_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (const char *p = name; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*p) || (*p == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && name[len - 1] != '-';
}

static int ensure_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	if (stat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700))
		return -errno;
	return 0;
}

int xlb_acme_state_init(const char *dir)
{
	char certs[4096];
	int err = ensure_dir(dir);

	if (err)
		return err;
	if ((size_t)snprintf(certs, sizeof(certs), "%s/certs", dir) >= sizeof(certs))
		return -ENAMETOOLONG;
	return ensure_dir(certs);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes parts[] one after the other into path, 0600, through a
 * temporary file renamed over it, so that path always holds a whole
 * version, the old or the new. */
static int write_file(const char *path, const char *const *parts, size_t nparts)
{
	char tmp[4096];
	int fd, err = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < nparts && !err; i++)
		err = write_all(fd, parts[i], strlen(parts[i]));
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* The whole of path, NUL-terminated, into a malloc'ed *out. */
static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len;
	int err = 0;

	if (!f)
		return -errno;
	buf = malloc(STATE_FILE_MAX + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	len = fread(buf, 1, STATE_FILE_MAX + 1, f);
	if (ferror(f) || len > STATE_FILE_MAX) {
		err = ferror(f) ? -EIO : -EFBIG;
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return err;
}

static int state_path(char *out, size_t len, const char *dir, const char *file)
{
	return (size_t)snprintf(out, len, "%s/%s", dir, file) < len ? 0 : -ENAMETOOLONG;
}

int xlb_acme_state_load_key(const char *dir, EVP_PKEY **key)
{
	char path[4096], *pem = NULL;
	BIO *b = NULL;
	int err = state_path(path, sizeof(path), dir, "account.key");

	if (!err)
		err = read_file(path, &pem);
	if (err)
		return err;
	b = BIO_new_mem_buf(pem, -1);
	*key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	err = *key ? 0 : -EINVAL;
	BIO_free(b);
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	return err;
}

int xlb_acme_state_save_key(const char *dir, EVP_PKEY *key)
{
	char path[4096], *pem = xlb_acme_key_pem(key);
	int err = pem ? state_path(path, sizeof(path), dir, "account.key") : -ENOMEM;

	if (!err)
		err = write_file(path, (const char *const[]){ pem }, 1);
	if (pem)
		OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	return err;
}

int xlb_acme_state_load_url(const char *dir, char **url)
{
	char path[4096];
	int err = state_path(path, sizeof(path), dir, "account.url");

	if (!err)
		err = read_file(path, url);
	if (!err)
		(*url)[strcspn(*url, "\r\n")] = '\0';
	return err;
}

int xlb_acme_state_save_url(const char *dir, const char *url)
{
	char path[4096];
	int err = state_path(path, sizeof(path), dir, "account.url");

	if (!err)
		err = write_file(path, (const char *const[]){ url, "\n" }, 2);
	return err;
}

static int cert_path(char *out, size_t len, const char *dir, const char *name)
{
	/* the name becomes a file name: no slash, no dot-dot, nothing odd */
	if (!xlb_acme_name_ok(name))
		return -EINVAL;
	return (size_t)snprintf(out, len, "%s/certs/%s.pem", dir, name) < len ? 0 : -ENAMETOOLONG;
}

/* Splits the stored file into the key before the first certificate and
 * the chain from there on. */
static int split_pem(const char *pem, struct xlb_acme_cert *c)
{
	const char *chain = strstr(pem, PEM_CERT_BEGIN);

	if (!chain || chain == pem)
		return -EINVAL;
	c->key_pem = strndup(pem, (size_t)(chain - pem));
	c->chain_pem = strdup(chain);
	return c->key_pem && c->chain_pem ? 0 : -ENOMEM;
}

int xlb_acme_state_load_cert(const char *dir, const char *name, struct xlb_acme_cert **out)
{
	struct xlb_acme_cert *c = NULL;
	char path[4096], *pem = NULL;
	int err = cert_path(path, sizeof(path), dir, name);

	if (!err)
		err = read_file(path, &pem);
	if (err)
		return err;
	c = calloc(1, sizeof(*c));
	err = c ? 0 : -ENOMEM;
	if (!err)
		err = (c->name = strdup(name)) ? split_pem(pem, c) : -ENOMEM;
	if (!err)
		err = xlb_acme_cert_parse(c);
	if (!err) {
		c->from_state = true;
		*out = c;
		c = NULL;
	}
	xlb_acme_cert_free(c);
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	return err;
}

int xlb_acme_state_save_cert(const char *dir, const struct xlb_acme_cert *c)
{
	char path[4096];
	int err = cert_path(path, sizeof(path), dir, c->name);

	if (!err)
		err = write_file(path, (const char *const[]){ c->key_pem, c->chain_pem }, 2);
	return err;
}
