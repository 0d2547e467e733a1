// SPDX-License-Identifier: GPL-2.0
#include "certs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/log.h"

/* far above a key and a chain of a few certificates */
#define CERT_FILE_MAX (1 << 20)
#define DNS_NAME_MAX 253
#define WATCH_EVENTS                                                                        \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | \
	 IN_DELETE_SELF | IN_MOVE_SELF)

/* What a file was when read: a rescan reads only files whose signature
 * moved, and a refused file is reported once, not on every rescan. */
struct file_sig {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	struct timespec ctim;
};

struct entry {
	char *stem;			  /* a file's NAME; NULL for one added from memory */
	char *source;			  /* the file read, or the label given */
	char *mem_name;			  /* from memory: the first name, what a new one replaces */
	bool as_default;		  /* from memory: added as the default */
	struct file_sig crt, key;	  /* of the files in service */
	struct file_sig bad_crt, bad_key; /* of the files last refused */
	bool has_bad;
	bool dirty;		   /* the watch named one of its files */
	bool seen;		   /* found by the current rescan */
	struct xlb_tls_cert *cert; /* NULL: nothing in service */
	SSL_CTX *ctx;
	uint64_t seq; /* load order: the latest claim to a name wins */
	/* from xlb_certs_add_scoped, one per source: served for served's
	 * names only (none: out of service), its wildcards not for except's;
	 * pem_hash tells a PEM sent again from a new one */
	bool scoped;
	struct xlb_certs_names served, except;
	unsigned char pem_hash[EVP_MAX_MD_SIZE];
};

struct name_ref {
	const char *name; /* a wildcard's without its "*." */
	struct entry *e;
};

struct xlb_certs {
	/* Handshakes pick from other threads (xlb_certs_pick_ref): writers
	 * hold it from the first change to the index rebuilt */
	pthread_rwlock_t lock;
	struct xlb_tls_server *srv;
	char *dir;
	int watch_fd;
	int wd;
	int dir_err; /* the last error reading dir, to log it once */
	struct entry **entries;
	size_t n_entries;
	struct name_ref *exact, *wild;
	size_t n_exact, n_wild;
	struct entry *deflt;
	uint64_t seq;
};

/* --- entries ----------------------------------------------------------- */

static bool is_default(const struct entry *e)
{
	return e->as_default || (e->stem && strcmp(e->stem, XLB_CERTS_DEFAULT_STEM) == 0);
}

/* A scoped certificate whose sender holds none of its names is kept,
 * parsed, but not served. */
static bool in_service(const struct entry *e)
{
	return e->cert && (!e->scoped || e->served.n);
}

/* The names e is indexed and listed by. */
static char *const *entry_names(const struct entry *e, size_t *n)
{
	if (e->scoped) {
		*n = e->served.n;
		return e->served.v;
	}
	*n = e->cert->n_names;
	return e->cert->names;
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	xlb_certs_names_free(&e->served);
	xlb_certs_names_free(&e->except);
	SSL_CTX_free(e->ctx);
	xlb_tls_cert_free(e->cert);
	free(e->stem);
	free(e->source);
	free(e->mem_name);
	free(e);
}

static struct entry *entry_add(struct xlb_certs *s)
{
	struct entry **v = realloc(s->entries, (s->n_entries + 1) * sizeof(*v));
	struct entry *e;

	if (!v)
		return NULL;
	s->entries = v;
	e = calloc(1, sizeof(*e));
	if (e)
		s->entries[s->n_entries++] = e;
	return e;
}

static void entry_remove_at(struct xlb_certs *s, size_t i)
{
	entry_free(s->entries[i]);
	s->entries[i] = s->entries[--s->n_entries];
}

static struct entry *entry_by_stem(const struct xlb_certs *s, const char *stem)
{
	for (size_t i = 0; i < s->n_entries; i++)
		if (s->entries[i]->stem && strcmp(s->entries[i]->stem, stem) == 0)
			return s->entries[i];
	return NULL;
}

static struct entry *entry_by_mem(const struct xlb_certs *s, const char *source, const char *name)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		struct entry *e = s->entries[i];

		if (!e->stem && !e->scoped && strcmp(e->source, source) == 0 &&
		    strcmp(e->mem_name, name) == 0)
			return e;
	}
	return NULL;
}

/* Puts cert in service for e, in place of what e served. Takes cert. */
static int entry_serve(struct xlb_certs *s, struct entry *e, struct xlb_tls_cert *cert)
{
	SSL_CTX *ctx = xlb_tls_server_ctx(s->srv, cert);

	if (!ctx) {
		xlb_tls_cert_free(cert);
		return -ENOMEM;
	}
	/* connections and callers holding the old SSL_CTX keep their reference */
	SSL_CTX_free(e->ctx);
	xlb_tls_cert_free(e->cert);
	e->ctx = ctx;
	e->cert = cert;
	e->seq = ++s->seq;
	e->has_bad = false;
	return 0;
}

/* --- the index --------------------------------------------------------- */

/* By name; for one name, a trusted certificate before a scoped one (a
 * container must not displace the operator's), then the latest load. */
static int name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->e->scoped != y->e->scoped)
		return x->e->scoped ? 1 : -1;
	return x->e->seq < y->e->seq ? 1 : x->e->seq > y->e->seq ? -1 : 0;
}

/* Sorted, then one per name: the first of each run. */
static size_t name_refs_settle(struct name_ref *v, size_t n)
{
	size_t out = 0;

	qsort(v, n, sizeof(*v), name_ref_cmp);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || strcmp(v[out - 1].name, v[i].name) != 0)
			v[out++] = v[i];
	return out;
}

static size_t names_in_service(const struct xlb_certs *s)
{
	size_t total = 0, n;

	for (size_t i = 0; i < s->n_entries; i++)
		if (in_service(s->entries[i])) {
			entry_names(s->entries[i], &n);
			total += n;
		}
	return total;
}

static int index_rebuild(struct xlb_certs *s)
{
	size_t total = names_in_service(s);
	struct name_ref *exact = calloc(total + 1, sizeof(*exact));
	struct name_ref *wild = calloc(total + 1, sizeof(*wild));
	size_t ne = 0, nw = 0;

	if (!exact || !wild) {
		/* the old index points into what was just freed: serve nothing
		 * rather than that, until the next change rebuilds it */
		free(exact);
		free(wild);
		s->n_exact = s->n_wild = 0;
		s->deflt = NULL;
		return -ENOMEM;
	}
	s->deflt = NULL;
	for (size_t i = 0; i < s->n_entries; i++) {
		struct entry *e = s->entries[i];
		char *const *names;
		size_t n;

		if (!in_service(e))
			continue;
		if (is_default(e) && (!s->deflt || s->deflt->seq < e->seq))
			s->deflt = e;
		names = entry_names(e, &n);
		for (size_t j = 0; j < n; j++) {
			if (strncmp(names[j], "*.", 2) == 0)
				wild[nw++] = (struct name_ref){ names[j] + 2, e };
			else
				exact[ne++] = (struct name_ref){ names[j], e };
		}
	}
	free(s->exact);
	free(s->wild);
	s->exact = exact;
	s->wild = wild;
	s->n_exact = name_refs_settle(exact, ne);
	/* every claim stays: a scoped wildcard passes over the names it
	 * must not answer, to the next certificate of the same wildcard */
	qsort(wild, nw, sizeof(*wild), name_ref_cmp);
	s->n_wild = nw;
	return 0;
}

static int name_ref_name_cmp(const void *key, const void *elem)
{
	return strcmp(((const struct name_ref *)key)->name, ((const struct name_ref *)elem)->name);
}

static struct entry *index_find(const struct name_ref *v, size_t n, const char *name)
{
	struct name_ref key = { name, NULL };
	const struct name_ref *r;

	if (n == 0)
		return NULL;
	r = bsearch(&key, v, n, sizeof(*v), name_ref_name_cmp);
	return r ? r->e : NULL;
}

/* Lower case and without a final dot into buf; false for what no
 * certificate can name. */
static bool sni_normalize(const char *sni, char *buf, size_t size)
{
	size_t len = strlen(sni);

	if (len > 0 && sni[len - 1] == '.')
		len--;
	if (len == 0 || len >= size)
		return false;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)tolower((unsigned char)sni[i]);
	buf[len] = '\0';
	return true;
}

/* The index of the first claim to name in v (sorted), or n. */
static size_t name_refs_first(const struct name_ref *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool entry_excludes(const struct entry *e, const char *name)
{
	for (size_t i = 0; i < e->except.n; i++)
		if (strcmp(e->except.v[i], name) == 0)
			return true;
	return false;
}

/* A wildcard covers exactly one label, and a non-empty one; a scoped
 * one not the names its sender does not hold. */
static struct entry *pick_wildcard(const struct xlb_certs *s, const char *name)
{
	const char *dot = strchr(name, '.');

	if (!dot || dot == name || dot[1] == '\0')
		return NULL;
	for (size_t i = name_refs_first(s->wild, s->n_wild, dot + 1);
	     i < s->n_wild && strcmp(s->wild[i].name, dot + 1) == 0; i++)
		if (!entry_excludes(s->wild[i].e, name))
			return s->wild[i].e;
	return NULL;
}

SSL_CTX *xlb_certs_pick(const struct xlb_certs *s, const char *sni)
{
	char name[DNS_NAME_MAX + 1];
	struct entry *e = NULL;

	if (sni && sni_normalize(sni, name, sizeof(name))) {
		e = index_find(s->exact, s->n_exact, name);
		if (!e)
			e = pick_wildcard(s, name);
	}
	if (!e)
		e = s->deflt;
	return e ? e->ctx : NULL;
}

/* Whether e's certificate names host: exactly, or by a wildcard over
 * one label of it; a "*.d" host only by that very wildcard. */
static bool entry_names_host(const struct entry *e, const char *host)
{
	const char *dot = strchr(host, '.');

	for (size_t i = 0; i < e->cert->n_names; i++) {
		const char *n = e->cert->names[i];

		if (strcasecmp(n, host) == 0 ||
		    (strncmp(n, "*.", 2) == 0 && host[0] != '*' && dot && dot != host &&
		     strcasecmp(n + 2, dot + 1) == 0))
			return true;
	}
	return false;
}

bool xlb_certs_file_serves(const struct xlb_certs *s, const char *host, const char *stem)
{
	for (size_t i = 0; s && i < s->n_entries; i++) {
		const struct entry *e = s->entries[i];

		if (!e->stem || !e->cert || is_default(e))
			continue;
		if (stem ? strcmp(e->stem, stem) == 0 : entry_names_host(e, host))
			return true;
	}
	return false;
}

/* --- files --------------------------------------------------------------- */

struct file_text {
	char *buf; /* NUL-terminated */
	size_t len;
};

/* The files of one NAME: NAME.crt with NAME.key, else NAME.pem alone. */
struct pair {
	char crt[PATH_MAX];
	char key[PATH_MAX]; /* empty for NAME.pem */
	struct file_sig crt_sig, key_sig;
	mode_t key_mode;
};

static void sig_of(const char *path, struct file_sig *sig, mode_t *mode)
{
	struct stat st;

	memset(sig, 0, sizeof(*sig));
	if (stat(path, &st))
		return;
	*sig = (struct file_sig){ true, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim };
	if (mode)
		*mode = st.st_mode;
}

static bool sig_eq(const struct file_sig *a, const struct file_sig *b)
{
	if (a->present != b->present)
		return false;
	return !a->present ||
	       (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
		a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec);
}

static int read_fd(int fd, struct file_text *t)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	if (st.st_size > CERT_FILE_MAX)
		return -EFBIG;
	t->buf = malloc((size_t)st.st_size + 1);
	if (!t->buf)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, t->buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	t->buf[got] = '\0';
	t->len = got;
	return 0;
}

static int file_read(const char *path, struct file_text *t)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int err;

	if (fd < 0)
		return -errno;
	err = read_fd(fd, t);
	close(fd);
	return err;
}

/* Key material is wiped, not just freed. */
static void file_text_release(struct file_text *t)
{
	if (t->buf)
		OPENSSL_cleanse(t->buf, t->len);
	free(t->buf);
	t->buf = NULL;
}

static int path_join(char *buf, const char *dir, const char *stem, const char *ext)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s%s", dir, stem, ext);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* false when NAME has neither NAME.crt nor NAME.pem any more */
static bool pair_locate(const struct xlb_certs *s, const char *stem, struct pair *p)
{
	memset(p, 0, sizeof(*p));
	if (path_join(p->crt, s->dir, stem, ".crt"))
		return false;
	sig_of(p->crt, &p->crt_sig, NULL);
	if (p->crt_sig.present) {
		if (path_join(p->key, s->dir, stem, ".key"))
			return false;
		sig_of(p->key, &p->key_sig, &p->key_mode);
		return true;
	}
	if (path_join(p->crt, s->dir, stem, ".pem"))
		return false;
	sig_of(p->crt, &p->crt_sig, &p->key_mode);
	return p->crt_sig.present;
}

static void names_join(char *const *names, size_t n_names, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n_names && off < size; i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? "," : "", names[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off >= size && size > 4)
		strcpy(buf + size - 4, "...");
}

static void log_loaded(const struct entry *e)
{
	char names[512];
	size_t n;
	char *const *v = entry_names(e, &n);

	names_join(v, n, names, sizeof(names));
	pr_info("event=cert_loaded source=%s names=%s serial=%s not_after=%lld%s", e->source,
		names[0] ? names : "-", e->cert->serial, (long long)e->cert->not_after,
		is_default(e) ? " default=1" : "");
}

static void warn_key_mode(const char *path, mode_t mode)
{
	if (mode & (S_IRGRP | S_IROTH))
		pr_warn("event=cert_key_exposed file=%s mode=%04o reason=\"private key readable by group or others\"",
			path, (unsigned)(mode & 07777));
}

static int pair_read(const struct pair *p, struct file_text *crt, struct file_text *key,
		     const char **why)
{
	int err = file_read(p->crt, crt);

	if (err) {
		*why = strerror(-err);
		return err;
	}
	if (!p->key[0])
		return 0;
	if (!p->key_sig.present) {
		*why = "no key file beside the certificate";
		return -ENOENT;
	}
	err = file_read(p->key, key);
	if (err)
		*why = strerror(-err);
	return err;
}

/* 0 with *cert; -errno with *why set when refused; 1 for a NAME.pem
 * without a key, a file that goes beside the pairs (NAME.chain.pem,
 * dhparam.pem) rather than one. */
static int pair_parse(const struct pair *p, struct xlb_tls_cert **cert, const char **why)
{
	struct file_text crt = { 0 }, key = { 0 };
	int err = pair_read(p, &crt, &key, why);

	if (!err && !p->key[0] && !strstr(crt.buf, "PRIVATE KEY-----"))
		err = 1;
	if (!err) {
		warn_key_mode(p->key[0] ? p->key : p->crt, p->key_mode);
		err = xlb_tls_cert_parse(crt.buf, crt.len, key.buf, key.len, time(NULL), cert, why);
	}
	file_text_release(&crt);
	file_text_release(&key);
	return err;
}

/* Reported once: the signature keeps the next rescan from reading the
 * same files again. */
static void pair_refused(struct entry *e, const struct pair *p, int err, const char *why)
{
	if (err == 1)
		pr_debug("event=cert_skipped file=%s reason=\"no private key\"", p->crt);
	else
		pr_err("event=cert_refused file=%s%s%s reason=\"%s\"%s", p->crt,
		       p->key[0] ? " key_file=" : "", p->key, why ? why : strerror(-err),
		       e->cert ? " kept=previous" : "");
	e->bad_crt = p->crt_sig;
	e->bad_key = p->key_sig;
	e->has_bad = true;
}

/* Reads the pair and puts it in service for e. 1: served; 0: refused
 * (reported) or not a pair; -ENOMEM. */
static int pair_load(struct xlb_certs *s, struct entry *e, const struct pair *p)
{
	struct xlb_tls_cert *cert = NULL;
	const char *why = NULL;
	char *source;
	int err = pair_parse(p, &cert, &why);

	if (err == -ENOMEM)
		return err;
	if (err == 1 && e->cert) {
		/* it held a pair before: now it is a broken one */
		err = -EINVAL;
		why = "no private key in PEM";
	}
	if (err) {
		pair_refused(e, p, err, why);
		return 0;
	}
	source = strdup(p->crt);
	if (!source) {
		xlb_tls_cert_free(cert);
		return -ENOMEM;
	}
	err = entry_serve(s, e, cert);
	if (err) {
		free(source);
		return err;
	}
	free(e->source);
	e->source = source;
	e->crt = p->crt_sig;
	e->key = p->key_sig;
	log_loaded(e);
	return 1;
}

static bool entry_unchanged(const struct entry *e, const struct pair *p)
{
	if (e->dirty)
		return false;
	if (e->cert && sig_eq(&e->crt, &p->crt_sig) && sig_eq(&e->key, &p->key_sig))
		return true;
	return e->has_bad && sig_eq(&e->bad_crt, &p->crt_sig) && sig_eq(&e->bad_key, &p->key_sig);
}

/* 1 when NAME's certificate in service changed, 0 if not, -ENOMEM. */
static int scan_stem(struct xlb_certs *s, const char *stem)
{
	struct entry *e = entry_by_stem(s, stem);
	struct pair p;

	if (!pair_locate(s, stem, &p))
		return 0;
	if (!e) {
		e = entry_add(s);
		if (!e)
			return -ENOMEM;
		e->stem = strdup(stem);
		e->source = strdup(p.crt);
		if (!e->stem || !e->source) {
			entry_remove_at(s, s->n_entries - 1);
			return -ENOMEM;
		}
	}
	e->seen = true;
	if (entry_unchanged(e, &p))
		return 0;
	e->dirty = false;
	return pair_load(s, e, &p);
}

/* NAME of NAME.crt or NAME.pem (and, with key, of NAME.key); hidden
 * files, editors' and Kubernetes' among them, are not looked at. */
static bool stem_of(const char *file, bool key, char *stem, size_t size)
{
	size_t len = strlen(file);
	const char *ext = len > 4 ? file + len - 4 : "";

	if (file[0] == '.' || len <= 4 || len - 4 >= size)
		return false;
	if (strcmp(ext, ".crt") && strcmp(ext, ".pem") && (!key || strcmp(ext, ".key")))
		return false;
	memcpy(stem, file, len - 4);
	stem[len - 4] = '\0';
	return true;
}

static int drop_unseen(struct xlb_certs *s)
{
	int dropped = 0;

	for (size_t i = s->n_entries; i-- > 0;) {
		struct entry *e = s->entries[i];

		if (e->seen)
			continue;
		if (e->cert) {
			pr_info("event=cert_removed source=%s", e->source);
			dropped++;
		}
		entry_remove_at(s, i);
	}
	return dropped;
}

static int dir_failed(struct xlb_certs *s, int err)
{
	if (err != s->dir_err)
		pr_err("event=certs_dir_unreadable dir=%s err=\"%s\"", s->dir, strerror(-err));
	s->dir_err = err;
	return err;
}

static int scan_dir(struct xlb_certs *s, DIR *d)
{
	struct dirent *de;
	int changed = 0;

	while ((de = readdir(d))) {
		char stem[NAME_MAX + 1];
		int n;

		if (!stem_of(de->d_name, false, stem, sizeof(stem)))
			continue;
		n = scan_stem(s, stem);
		if (n < 0)
			return n;
		changed += n;
	}
	return changed;
}

static int certs_rescan(struct xlb_certs *s)
{
	DIR *d;
	int changed, err;

	if (!s->dir)
		return 0;
	if (s->wd < 0)
		s->wd = inotify_add_watch(s->watch_fd, s->dir, WATCH_EVENTS);
	d = opendir(s->dir);
	if (!d)
		return dir_failed(s, -errno);
	s->dir_err = 0;
	for (size_t i = 0; i < s->n_entries; i++)
		s->entries[i]->seen = !s->entries[i]->stem;
	changed = scan_dir(s, d);
	closedir(d);
	/* after a failed scan, unseen is not gone: keep what was served */
	if (changed >= 0)
		changed += drop_unseen(s);
	err = index_rebuild(s);
	return changed < 0 ? changed : err ? err : changed;
}

/* --- the watch --------------------------------------------------------- */

static void mark_dirty(struct xlb_certs *s, const char *file)
{
	char stem[NAME_MAX + 1];
	struct entry *e;

	if (stem_of(file, true, stem, sizeof(stem)) && (e = entry_by_stem(s, stem)))
		e->dirty = true;
}

static void note_event(struct xlb_certs *s, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		/* names were lost: read every file again */
		for (size_t i = 0; i < s->n_entries; i++)
			s->entries[i]->dirty = s->entries[i]->stem != NULL;
	}
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		/* watch the path again at the next rescan, whatever is there */
		inotify_rm_watch(s->watch_fd, ev->wd);
		s->wd = -1;
	}
	if (ev->mask & IN_IGNORED && ev->wd == s->wd)
		s->wd = -1;
	if (ev->len)
		mark_dirty(s, ev->name);
}

int xlb_certs_watch_drain(struct xlb_certs *s)
{
	union {
		struct inotify_event ev;
		char bytes[4096];
	} u;
	int events = 0;

	if (s->watch_fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(s->watch_fd, u.bytes, sizeof(u.bytes));
		const struct inotify_event *ev;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		for (char *p = u.bytes; p < u.bytes + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			note_event(s, ev);
			events++;
		}
	}
	return events;
}

int xlb_certs_watch_fd(const struct xlb_certs *s)
{
	return s->watch_fd;
}

static int watch_open(struct xlb_certs *s, const char *dir)
{
	s->dir = strdup(dir);
	if (!s->dir)
		return -ENOMEM;
	s->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->watch_fd < 0) {
		pr_err("event=certs_watch_failed dir=%s err=\"%s\"", dir, strerror(errno));
		return -errno;
	}
	s->wd = inotify_add_watch(s->watch_fd, dir, WATCH_EVENTS);
	if (s->wd < 0)
		return dir_failed(s, -errno);
	return 0;
}

/* --- the store ------------------------------------------------------------ */

/* A writer waits for the readers in the lock, not for every reader to
 * come: a stream of handshakes must not hold a reload off. */
static int rwlock_init(pthread_rwlock_t *lock)
{
	pthread_rwlockattr_t attr;
	int err;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	err = pthread_rwlock_init(lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return err;
}

int xlb_certs_new(struct xlb_tls_server *srv, const char *dir, struct xlb_certs **out)
{
	struct xlb_certs *s = calloc(1, sizeof(*s));
	int err = 0;

	if (!s)
		return -ENOMEM;
	if (rwlock_init(&s->lock)) {
		free(s);
		return -ENOMEM;
	}
	s->srv = xlb_tls_server_get(srv);
	s->watch_fd = -1;
	s->wd = -1;
	if (dir)
		err = watch_open(s, dir);
	if (!err)
		err = xlb_certs_rescan(s);
	if (err < 0) {
		xlb_certs_free(s);
		return err;
	}
	*out = s;
	return 0;
}

void xlb_certs_free(struct xlb_certs *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_entries; i++)
		entry_free(s->entries[i]);
	free(s->entries);
	free(s->exact);
	free(s->wild);
	if (s->watch_fd >= 0)
		close(s->watch_fd);
	free(s->dir);
	xlb_tls_server_put(s->srv);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

static struct entry *mem_entry_get(struct xlb_certs *s, const char *source, const char *name)
{
	struct entry *e = entry_by_mem(s, source, name);

	if (e)
		return e;
	e = entry_add(s);
	if (!e)
		return NULL;
	e->source = strdup(source);
	e->mem_name = strdup(name);
	e->seen = true;
	if (!e->source || !e->mem_name) {
		entry_remove_at(s, s->n_entries - 1);
		return NULL;
	}
	return e;
}

static int certs_add_pem(struct xlb_certs *s, const char *source, const char *pem, size_t len,
			 unsigned flags)
{
	struct xlb_tls_cert *cert = NULL;
	const char *why = NULL;
	struct entry *e;
	int err;

	err = xlb_tls_cert_parse(pem, len, NULL, 0, time(NULL), &cert, &why);
	if (err) {
		pr_err("event=cert_refused source=%s reason=\"%s\"", source, why);
		return err;
	}
	e = mem_entry_get(s, source, cert->n_names ? cert->names[0] : "");
	if (e) {
		err = entry_serve(s, e, cert);
	} else {
		xlb_tls_cert_free(cert);
		err = -ENOMEM;
	}
	if (!err) {
		e->as_default = flags & XLB_CERTS_AS_DEFAULT;
		err = index_rebuild(s);
	}
	if (err)
		pr_err("event=cert_refused source=%s reason=\"%s\"", source, strerror(-err));
	else
		log_loaded(e);
	return err;
}

static int certs_remove_pem(struct xlb_certs *s, const char *source, const char *name)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		struct entry *e = s->entries[i];

		if (e->stem || e->scoped || strcmp(e->source, source) ||
		    strcasecmp(e->mem_name, name))
			continue;
		pr_info("event=cert_removed source=%s name=%s", source, e->mem_name);
		entry_remove_at(s, i);
		return index_rebuild(s);
	}
	return -ENOENT;
}

/* --- scoped certificates ------------------------------------------------------ */

void xlb_certs_names_free(struct xlb_certs_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Adds name, lower case, unless it is there. */
static int names_add(struct xlb_certs_names *l, const char *name)
{
	char **v;

	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], name) == 0)
			return 0;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	v[l->n] = strdup(name);
	if (!v[l->n])
		return -ENOMEM;
	for (char *c = v[l->n]; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	l->n++;
	return 0;
}

static bool names_same(const struct xlb_certs_names *a, const struct xlb_certs_names *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		bool found = false;

		for (size_t j = 0; j < b->n && !found; j++)
			found = strcmp(a->v[i], b->v[j]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* Routing's wildcard "*.suffix": one label or more before suffix. */
static bool wildcard_matches(const char *suffix, const char *host)
{
	size_t n = strlen(host), m = strlen(suffix);

	return n > m + 1 && host[n - m - 1] == '.' && strcasecmp(host + n - m, suffix) == 0;
}

/* A certificate's wildcard "*.suffix": exactly one label, not itself a
 * wildcard. */
static bool one_label_under(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return wildcard_matches(suffix, name) && strncmp(name, "*.", 2) != 0 &&
	       strchr(name, '.') == name + n - m - 1;
}

enum scope_verdict { SCOPE_NONE, SCOPE_ALLOWED, SCOPE_DENIED };

/* Where routing sends host among the scope's names: the same name,
 * else the longest wildcard matching it. Given a certificate's wildcard
 * "*.d", only wildcards can match: the verdict for a name under it that
 * no exact route takes. */
static enum scope_verdict scope_route(const char *const *allowed, const char *const *denied,
				      const char *host)
{
	const struct {
		const char *const *v;
		enum scope_verdict verdict;
	} lists[] = { { allowed, SCOPE_ALLOWED }, { denied, SCOPE_DENIED } };
	enum scope_verdict best = SCOPE_NONE;
	size_t best_len = 0;

	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; lists[l].v && lists[l].v[i]; i++) {
			const char *p = lists[l].v[i];

			if (strncmp(p, "*.", 2) != 0) {
				if (strcasecmp(p, host) == 0)
					return lists[l].verdict;
			} else if (wildcard_matches(p + 2, host) && strlen(p) > best_len) {
				best = lists[l].verdict;
				best_len = strlen(p);
			}
		}
	}
	return best;
}

static int scope_one(const char *name, const char *const *allowed, const char *const *denied,
		     struct xlb_certs_names *served, struct xlb_certs_names *except)
{
	bool wild = strncmp(name, "*.", 2) == 0;
	int err = 0;

	if (scope_route(allowed, denied, name) == SCOPE_ALLOWED) {
		err = names_add(served, name);
		for (size_t i = 0; wild && !err && denied && denied[i]; i++)
			if (one_label_under(denied[i], name + 2))
				err = names_add(except, denied[i]);
		return err;
	}
	for (size_t i = 0; wild && !err && allowed && allowed[i]; i++)
		if (one_label_under(allowed[i], name + 2))
			err = names_add(served, allowed[i]);
	return err;
}

int xlb_certs_scope_names(const char *const *names, size_t n, const char *const *allowed,
			  const char *const *denied, struct xlb_certs_names *served,
			  struct xlb_certs_names *except)
{
	int err = 0;

	memset(served, 0, sizeof(*served));
	memset(except, 0, sizeof(*except));
	for (size_t i = 0; i < n && !err; i++)
		err = scope_one(names[i], allowed, denied, served, except);
	if (err) {
		xlb_certs_names_free(served);
		xlb_certs_names_free(except);
	}
	return err;
}

static struct entry *scoped_by_source(const struct xlb_certs *s, const char *source)
{
	for (size_t i = 0; i < s->n_entries; i++)
		if (s->entries[i]->scoped && strcmp(s->entries[i]->source, source) == 0)
			return s->entries[i];
	return NULL;
}

static struct entry *scoped_new(struct xlb_certs *s, const char *source)
{
	struct entry *e = entry_add(s);

	if (!e)
		return NULL;
	e->scoped = true;
	e->seen = true;
	e->source = strdup(source);
	if (!e->source) {
		entry_remove_at(s, s->n_entries - 1);
		return NULL;
	}
	return e;
}

static int scoped_drop(struct xlb_certs *s, struct entry *e)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		if (s->entries[i] != e)
			continue;
		if (in_service(e))
			pr_info("event=cert_removed source=%s", e->source);
		entry_remove_at(s, i);
		return index_rebuild(s);
	}
	return -ENOENT;
}

/* Reads pem into *ep (made for source when there is none) in place of
 * what it served; a refused PEM takes out what it served. */
static int scoped_load(struct xlb_certs *s, struct entry **ep, const char *source, const char *pem,
		       size_t len, char *detail, size_t detail_len)
{
	struct xlb_tls_cert *cert = NULL;
	const char *why = NULL;
	int err = xlb_tls_cert_parse(pem, len, NULL, 0, time(NULL), &cert, &why);

	if (err) {
		snprintf(detail, detail_len, "%s", why ? why : strerror(-err));
		if (*ep)
			scoped_drop(s, *ep);
		*ep = NULL;
		return err;
	}
	if (!*ep)
		*ep = scoped_new(s, source);
	if (!*ep) {
		xlb_tls_cert_free(cert);
		return -ENOMEM;
	}
	return entry_serve(s, *ep, cert);
}

/* Narrows e's certificate to what scope allows; a change in what it
 * serves is logged. */
static int scoped_narrow(struct xlb_certs *s, struct entry *e, const char *const *allowed,
			 const char *const *denied, bool fresh, char *detail, size_t detail_len)
{
	struct xlb_certs_names served, except;
	bool was = in_service(e);
	int err = xlb_certs_scope_names((const char *const *)e->cert->names, e->cert->n_names,
					allowed, denied, &served, &except);

	if (err)
		return err;
	if (!fresh && names_same(&served, &e->served) && names_same(&except, &e->except)) {
		xlb_certs_names_free(&served);
		xlb_certs_names_free(&except);
	} else {
		xlb_certs_names_free(&e->served);
		xlb_certs_names_free(&e->except);
		e->served = served;
		e->except = except;
		err = index_rebuild(s);
		if (err)
			return err;
		if (in_service(e))
			log_loaded(e);
		else if (was)
			pr_info("event=cert_removed source=%s reason=\"no name left to serve\"",
				e->source);
	}
	if (in_service(e))
		return 0;
	names_join(e->cert->names, e->cert->n_names, detail, detail_len);
	return -ENOENT;
}

static int certs_add_scoped(struct xlb_certs *s, const char *source, const char *pem, size_t len,
			    const char *const *allowed, const char *const *denied, char *detail,
			    size_t detail_len)
{
	unsigned char hash[EVP_MAX_MD_SIZE];
	struct entry *e = scoped_by_source(s, source);
	unsigned hash_len = 0;
	bool fresh = false;
	int err;

	if (detail_len)
		detail[0] = '\0';
	if (!EVP_Digest(pem, len, hash, &hash_len, EVP_sha256(), NULL))
		return -ENOMEM;
	if (!e || !e->cert || memcmp(e->pem_hash, hash, hash_len) != 0) {
		err = scoped_load(s, &e, source, pem, len, detail, detail_len);
		if (err)
			return err;
		memcpy(e->pem_hash, hash, hash_len);
		fresh = true;
	}
	return scoped_narrow(s, e, allowed, denied, fresh, detail, detail_len);
}

static int certs_remove_scoped(struct xlb_certs *s, const char *source)
{
	struct entry *e = scoped_by_source(s, source);

	return e ? scoped_drop(s, e) : -ENOENT;
}

/* --- the listing ------------------------------------------------------------ */

static int info_fill(struct xlb_cert_info *info, const struct entry *e, bool deflt)
{
	const struct xlb_tls_cert *c = e->cert;
	size_t n;
	char *const *names = entry_names(e, &n);

	info->source = strdup(e->source);
	info->names = calloc(n + 1, sizeof(*info->names));
	if (!info->source || !info->names)
		return -ENOMEM;
	for (; info->n_names < n; info->n_names++) {
		info->names[info->n_names] = strdup(names[info->n_names]);
		if (!info->names[info->n_names])
			return -ENOMEM;
	}
	memcpy(info->issuer, c->issuer, sizeof(info->issuer));
	memcpy(info->serial, c->serial, sizeof(info->serial));
	info->not_after = c->not_after;
	info->is_default = deflt;
	return 0;
}

static int info_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xlb_cert_info *)a)->source,
		      ((const struct xlb_cert_info *)b)->source);
}

int xlb_certs_list(const struct xlb_certs *s, struct xlb_cert_info **out, size_t *n)
{
	struct xlb_cert_info *list = calloc(s->n_entries + 1, sizeof(*list));
	size_t count = 0;
	int err = 0;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_entries && !err; i++) {
		const struct entry *e = s->entries[i];

		if (in_service(e))
			err = info_fill(&list[count++], e, e == s->deflt);
	}
	if (err) {
		xlb_certs_list_free(list, count);
		return err;
	}
	qsort(list, count, sizeof(*list), info_cmp);
	*out = list;
	*n = count;
	return 0;
}

void xlb_certs_list_free(struct xlb_cert_info *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < list[i].n_names; j++)
			free(list[i].names[j]);
		free(list[i].names);
		free(list[i].source);
	}
	free(list);
}

time_t xlb_certs_soonest_not_after(const struct xlb_certs *s)
{
	time_t soonest = 0;

	for (size_t i = 0; i < s->n_entries; i++) {
		const struct entry *e = s->entries[i];

		if (in_service(e) && (!soonest || e->cert->not_after < soonest))
			soonest = e->cert->not_after;
	}
	return soonest;
}

/* --- the lock ------------------------------------------------------------------ */

/* The public changes, each whole under the write lock: a change frees
 * what the index points at (a certificate's names, an entry, an SSL_CTX)
 * before the index is rebuilt. Readers on the thread that changes the
 * store need no lock; others pick with xlb_certs_pick_ref. */

SSL_CTX *xlb_certs_pick_ref(const struct xlb_certs *s, const char *sni)
{
	/* the lock, not the store, changes */
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&s->lock;
	SSL_CTX *ctx;

	pthread_rwlock_rdlock(lock);
	ctx = xlb_certs_pick(s, sni);
	if (ctx && !SSL_CTX_up_ref(ctx))
		ctx = NULL;
	pthread_rwlock_unlock(lock);
	return ctx;
}

int xlb_certs_rescan(struct xlb_certs *s)
{
	int r;

	pthread_rwlock_wrlock(&s->lock);
	r = certs_rescan(s);
	pthread_rwlock_unlock(&s->lock);
	return r;
}

int xlb_certs_add_pem(struct xlb_certs *s, const char *source, const char *pem, size_t len,
		      unsigned flags)
{
	int r;

	pthread_rwlock_wrlock(&s->lock);
	r = certs_add_pem(s, source, pem, len, flags);
	pthread_rwlock_unlock(&s->lock);
	return r;
}

int xlb_certs_remove_pem(struct xlb_certs *s, const char *source, const char *name)
{
	int r;

	pthread_rwlock_wrlock(&s->lock);
	r = certs_remove_pem(s, source, name);
	pthread_rwlock_unlock(&s->lock);
	return r;
}

int xlb_certs_add_scoped(struct xlb_certs *s, const char *source, const char *pem, size_t len,
			 const char *const *allowed, const char *const *denied, char *detail,
			 size_t detail_len)
{
	int r;

	pthread_rwlock_wrlock(&s->lock);
	r = certs_add_scoped(s, source, pem, len, allowed, denied, detail, detail_len);
	pthread_rwlock_unlock(&s->lock);
	return r;
}

int xlb_certs_remove_scoped(struct xlb_certs *s, const char *source)
{
	int r;

	pthread_rwlock_wrlock(&s->lock);
	r = certs_remove_scoped(s, source);
	pthread_rwlock_unlock(&s->lock);
	return r;
}
