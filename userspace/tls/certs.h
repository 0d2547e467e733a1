/* SPDX-License-Identifier: GPL-2.0 */
/* The certificate store: every certificate the proxy can serve, from a
 * directory ([tls] certs) and from memory (ACME, the environment), each
 * with its own server SSL_CTX, picked from by the name a client sends in
 * SNI. The store reports each certificate it refuses on one line naming
 * the file or source and the reason, so its callers log nothing more
 * (but for scoped certificates, whose callers know who sent them). One
 * thread changes a store and reads it; other threads (the proxy's
 * handshake workers) only pick, with xlb_certs_pick_ref. The SSL_CTXs it
 * hands out are refcounted and may outlive a reload or the store itself. */
#ifndef XLB_TLS_CERTS_H
#define XLB_TLS_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "cert.h"
#include "server.h"

/* the file stem of the certificate served to a name nothing else has */
#define XLB_CERTS_DEFAULT_STEM "default"

/* flags of xlb_certs_add_pem */
#define XLB_CERTS_AS_DEFAULT 0x1u

struct xlb_certs;

/* One certificate in service, for `xlbctl certs`. */
struct xlb_cert_info {
	char **names; /* as in the certificate, lower case; "*.d" for a wildcard */
	size_t n_names;
	char *source; /* the file read, or the label it was added with */
	char issuer[XLB_TLS_ISSUER_LEN];
	char serial[XLB_TLS_SERIAL_LEN]; /* hex, as `openssl x509 -serial` */
	time_t not_after;
	bool is_default;
};

/* A store whose SSL_CTXs follow srv's policy (it keeps a reference).
 * With dir, it watches dir and loads what it holds: a directory that
 * cannot be read or watched is an error (-errno, logged); a file that
 * cannot be loaded is reported and skipped. dir NULL: memory only. */
int xlb_certs_new(struct xlb_tls_server *srv, const char *dir, struct xlb_certs **out);

void xlb_certs_free(struct xlb_certs *s);

/* The inotify descriptor over the directory, non-blocking, for the
 * caller's epoll loop; -1 for a store without a directory. */
int xlb_certs_watch_fd(const struct xlb_certs *s);

/* Reads what the watch reported (call when its fd is readable). >0: the
 * directory changed, xlb_certs_rescan is due (when is the caller's
 * choice: editors and renewals write in bursts); 0: nothing; -errno. */
int xlb_certs_watch_drain(struct xlb_certs *s);

/* Brings the store in line with the directory: reads only the files
 * that changed (or that the watch named), puts a renewed or new
 * certificate in service, drops the names of removed files, and keeps
 * the certificate in service when its replacement is refused. Returns
 * the number of certificates added, replaced or removed, or -errno when
 * the directory cannot be read (the certificates stay; logged once). */
int xlb_certs_rescan(struct xlb_certs *s);

/* Adds, or replaces, the certificate in pem (the chain, leaf first, and
 * its key), under source ("acme", "env"). A certificate replaces the one
 * of the same source whose first name is its first name. Validated as
 * files are; -EINVAL when refused (reported), -ENOMEM. */
int xlb_certs_add_pem(struct xlb_certs *s, const char *source, const char *pem, size_t len,
		      unsigned flags);

/* Takes out the certificate added from source for first name name.
 * -ENOENT when there is none. */
int xlb_certs_remove_pem(struct xlb_certs *s, const char *source, const char *name);

/* --- scoped certificates ---------------------------------------------------
 * A certificate from an untrusted sender (a container's SSL_CERT: anyone
 * who can start a container sets its environment) is served only for
 * the host names its sender holds in routing, never as the default, and
 * behind a certificate from a trusted source (the directory, ACME,
 * xlb_certs_add_pem) that claims the same name. */

/* A list of names, each malloc'ed. */
struct xlb_certs_names {
	char **v;
	size_t n;
};

/* Which of a certificate's names (as in the certificate: "a.d", or "*.d"
 * for exactly one label) may be served where its sender holds the host
 * names allowed and others hold denied (both NULL-terminated, in
 * routing's terms: "a.d" exactly, "*.d" for one label or more before
 * d). A name is looked up as routing looks up a host (exactly, then the
 * longest wildcard over both lists) and kept when it lands on an allowed
 * one; a certificate wildcard that does not is narrowed to the allowed
 * names one label under it. Case does not matter; the results are lower
 * case, each once. except gets, for the wildcards kept, the denied names
 * one label under them: those a kept wildcard must not answer. -ENOMEM. */
int xlb_certs_scope_names(const char *const *names, size_t n, const char *const *allowed,
			  const char *const *denied, struct xlb_certs_names *served,
			  struct xlb_certs_names *except);
void xlb_certs_names_free(struct xlb_certs_names *l);

/* Adds, or replaces, the certificate from source (one per source, which
 * names the sender: "env:web_1"), served for what xlb_certs_scope_names
 * gives for allowed and denied. The same source, PEM and names again
 * change nothing, and cost no parsing. Refusals are not logged here:
 * the caller names the sender. Returns 0 (serving); -EINVAL with the
 * reason in detail when the PEM is refused as a file would be (what the
 * source served before is taken out); -ENOENT with the certificate's
 * names in detail when none of them is allowed (kept out of service,
 * until a call with the same PEM allows one); -ENOMEM. */
int xlb_certs_add_scoped(struct xlb_certs *s, const char *source, const char *pem, size_t len,
			 const char *const *allowed, const char *const *denied, char *detail,
			 size_t detail_len);

/* Takes out the certificate from source. -ENOENT when there is none. */
int xlb_certs_remove_scoped(struct xlb_certs *s, const char *source);

/* The SSL_CTX serving sni: an exact name (case does not matter), then a
 * wildcard one level deep, then the default; NULL when none (send the
 * unrecognized_name alert). sni NULL: the default. Borrowed until the
 * next change of the store: SSL_CTX_up_ref to keep it. Where two
 * certificates claim a name, a trusted one before a scoped one, then the
 * one loaded last serves it. */
SSL_CTX *xlb_certs_pick(const struct xlb_certs *s, const char *sni);
/* The same from any thread, while the store's thread may change it: a
 * reference the caller drops (SSL_CTX_free). */
SSL_CTX *xlb_certs_pick_ref(const struct xlb_certs *s, const char *sni);

/* Whether a certificate file of the directory, other than the default,
 * is in service for host (nginx-proxy's test of "a usable certificate"
 * for a virtual host, which then gets https): one whose certificate
 * names host, exactly or by a wildcard; with stem (nginx-proxy's
 * CERT_NAME), the file stem.crt or stem.pem, whatever it names. Store's
 * thread only; s NULL: false. */
bool xlb_certs_file_serves(const struct xlb_certs *s, const char *host, const char *stem);

/* The certificates in service, sorted by source; free with
 * xlb_certs_list_free. -ENOMEM. */
int xlb_certs_list(const struct xlb_certs *s, struct xlb_cert_info **out, size_t *n);
void xlb_certs_list_free(struct xlb_cert_info *list, size_t n);

/* The earliest not-after of the certificates in service; 0 when none. */
time_t xlb_certs_soonest_not_after(const struct xlb_certs *s);

#endif
