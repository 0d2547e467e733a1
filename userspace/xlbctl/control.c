// SPDX-License-Identifier: GPL-2.0
/* xlbctl's side of xlbd's control socket, and the commands that change
 * the running balancer through it (service and backend add/del/drain). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/config.h"
#include "xlbctl.h"
#include "xlb/map_types.h"

/* ---- the control socket ----------------------------------------------------- */

/* xlbd answers a request once the maps are written; a Maglev rebuild and a
 * flow prune take milliseconds, so this only catches a hung daemon. */
#define CONTROL_TIMEOUT_S 30
/* Replies are a handful of lines; a cap keeps a confused peer from making
 * us buffer without end. */
#define CONTROL_REPLY_MAX (1 << 20)

static int control_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CONTROL_TIMEOUT_S };
	int fd, rc = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* MSG_NOSIGNAL: a daemon that hangs up early must give an error message,
 * not kill xlbctl with SIGPIPE. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int grow_reply(struct reply *r, size_t *cap)
{
	char *buf;

	if (r->len + 1 < *cap)
		return 0;
	if (*cap >= CONTROL_REPLY_MAX)
		return -EMSGSIZE;
	*cap = *cap ? *cap * 2 : 4096;
	buf = realloc(r->buf, *cap);
	if (!buf)
		return -ENOMEM;
	r->buf = buf;
	return 0;
}

/* Reads until xlbd closes the connection, which ends every answer. */
static int recv_all(int fd, struct reply *r)
{
	size_t cap = 0;

	*r = (struct reply){ 0 };
	for (;;) {
		int rc = grow_reply(r, &cap);
		ssize_t n;

		if (rc)
			return rc;
		n = recv(fd, r->buf + r->len, cap - r->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			break;
		r->len += (size_t)n;
	}
	r->buf[r->len] = '\0';
	return 0;
}

/* Sends one request line and reads the whole answer. Prints its own
 * errors, distinguishing "xlbd is not there" from "xlbd broke off". */
int control_request(const char *path, const char *request, struct reply *r, bool quiet)
{
	char line[512];
	int fd = control_connect(path), rc;

	*r = (struct reply){ 0 };
	if (fd < 0) {
		if (!quiet)
			complain(CTL_FAIL, "cannot reach xlbd at %s: %s", path, strerror(-fd));
		return fd;
	}
	snprintf(line, sizeof(line), "%s\n", request);
	rc = send_all(fd, line, strlen(line));
	if (!rc)
		rc = recv_all(fd, r);
	close(fd);
	if (rc == -ETIMEDOUT && !quiet)
		complain(CTL_FAIL, "xlbd at %s did not answer within %d s", path,
			 CONTROL_TIMEOUT_S);
	else if (rc && !quiet)
		complain(CTL_FAIL, "talking to xlbd at %s: %s", path, strerror(-rc));
	return rc;
}

/* Splits the answer into its output lines and the final status line
 * ("ok" or "error: ..."), both in place. */
void split_reply(struct reply *r, const char **output, const char **status)
{
	char *end = r->buf + r->len, *nl;

	while (end > r->buf && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	nl = strrchr(r->buf, '\n');
	if (!nl) {
		*output = "";
		*status = r->buf;
		return;
	}
	*nl = '\0';
	*output = r->buf;
	*status = nl + 1;
}

static int report_status(const char *status)
{
	if (strcmp(status, "ok") == 0)
		return CTL_OK;
	if (strncmp(status, "error: ", 7) == 0)
		return complain(CTL_FAIL, "%s", status + 7);
	if (status[0] == '\0')
		return complain(CTL_FAIL, "xlbd closed the connection without an answer");
	return complain(CTL_FAIL, "unexpected answer from xlbd: '%s'", status);
}

/* Runs one changing request: prints xlbd's output lines, then turns the
 * status line into the exit code. */
static int run_request(const struct ctl *ctl, const char *request)
{
	const char *output, *status;
	struct reply r;
	int rc;

	if (control_request(ctl->socket, request, &r, false)) {
		free(r.buf);
		return CTL_FAIL;
	}
	split_reply(&r, &output, &status);
	if (output[0])
		printf("%s\n", output);
	rc = report_status(status);
	free(r.buf);
	return rc;
}

/* Runs one read-only request: *output gets xlbd's output lines (malloc'd,
 * free it) when the status line is ok. */
int control_query(const struct ctl *ctl, const char *request, char **output)
{
	const char *out, *status;
	struct reply r;
	int rc;

	*output = NULL;
	if (control_request(ctl->socket, request, &r, false)) {
		free(r.buf);
		return CTL_FAIL;
	}
	split_reply(&r, &out, &status);
	rc = report_status(status);
	if (rc == CTL_OK && !(*output = strdup(out)))
		rc = complain(CTL_FAIL, "out of memory");
	free(r.buf);
	return rc;
}

/* ---- changing commands ------------------------------------------------------ */

int check_service_name(const char *what, const char *name)
{
	if (xlb_valid_service_name(name))
		return CTL_OK;
	return complain(CTL_USAGE,
			"%s: invalid service name '%s' (1-%d characters of A-Z a-z 0-9 _ . -)",
			what, name, XLB_NAME_LEN - 1);
}

/* Parses ADDR:PORT[/PROTO] and writes its canonical form (e.g. IPv6
 * compressed) into out, which is what goes on the wire. */
static int check_endpoint(const char *what, const char *s, enum xlb_ep_want want, char *out,
			  size_t len)
{
	struct xlb_endpoint ep;
	const char *why = "invalid endpoint";

	if (xlb_parse_endpoint(s, want, &ep, &why))
		return complain(CTL_USAGE, "%s: '%s': %s", what, s, why);
	xlb_format_endpoint(&ep, out, len);
	return CTL_OK;
}

static int parse_weight(const char *what, const char *s, unsigned long *weight)
{
	char *end;

	*weight = 1;
	if (!s)
		return CTL_OK;
	errno = 0;
	*weight = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || *weight < 1 || *weight > XLB_WEIGHT_MAX)
		return complain(CTL_USAGE, "%s: --weight must be an integer in 1..%d, not '%s'",
				what, XLB_WEIGHT_MAX, s);
	return CTL_OK;
}

/* xlbd's limits on one request line (CTL_MAX_WORDS, and CTL_LINE_MAX
 * less the newline and the NUL, in userspace/xlbd/control.c): xlbd refuses a
 * longer request, so xlbctl says why before sending it. */
#define CTL_REQUEST_MAX_WORDS 24
#define CTL_REQUEST_MAX_LEN 510

/* A request line built word by word; too_long once a word did not fit. */
struct request_line {
	char text[CTL_REQUEST_MAX_LEN + 1];
	size_t len;
	int words;
	bool too_long;
};

static void __attribute__((format(printf, 2, 3)))
add_word(struct request_line *r, const char *fmt, ...)
{
	char word[CTL_REQUEST_MAX_LEN + 1];
	size_t room = sizeof(r->text) - r->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(word, sizeof(word), fmt, ap);
	va_end(ap);
	if (r->too_long || n < 0 || (size_t)n + (r->words ? 1 : 0) >= room) {
		r->too_long = true;
		return;
	}
	r->len += (size_t)snprintf(r->text + r->len, room, "%s%s", r->words ? " " : "", word);
	r->words++;
}

static int check_hosts(const char *what, const struct sub_args *a)
{
	char host[XLB_HOST_LEN], path[XLB_PATH_SIZE], why[320];
	const char *pwhy;

	for (int i = 0; i < a->nhosts; i++) {
		if (xlb_split_route(a->hosts[i], strlen(a->hosts[i]), host, path, why, sizeof(why)))
			return complain(CTL_USAGE,
					"%s: --host '%s': %s (a DNS name, or *.DOMAIN for a "
					"wildcard, and maybe a /path; no port)",
					what, a->hosts[i], why);
		for (int j = 0; j < i; j++)
			if (strcasecmp(a->hosts[i], a->hosts[j]) == 0)
				return complain(CTL_USAGE, "%s: host '%s' given twice", what,
						a->hosts[i]);
	}
	for (int i = 0; i < a->npaths; i++)
		if (xlb_path_normalize(a->paths[i], strlen(a->paths[i]), path, &pwhy))
			return complain(CTL_USAGE, "%s: bad --path '%s': %s", what, a->paths[i],
					pwhy);
	return CTL_OK;
}

/* Checks the options of `service add` beyond what getopt does. */
static int check_service_add(const char *what, const struct sub_args *a, char *listen, size_t len)
{
	int rc = check_service_name(what, a->pos[0]);

	if (!rc && !a->listen && !a->nhosts)
		rc = complain(CTL_USAGE, "%s: give --listen ADDR:PORT/PROTO, --host NAME, or both",
			      what);
	if (!rc && a->listen)
		rc = check_endpoint(what, a->listen, XLB_EP_PROTO, listen, len);
	if (!rc)
		rc = check_hosts(what, a);
	if (!rc && a->proto && strcmp(a->proto, "http") && strcmp(a->proto, "https") &&
	    strcmp(a->proto, "tls"))
		rc = complain(CTL_USAGE, "%s: --proto must be http, https or tls, not '%s'", what,
			      a->proto);
	if (!rc && a->proto && !a->nhosts)
		rc = complain(CTL_USAGE, "%s: --proto applies to --host names; none given", what);
	if (!rc && (a->npaths || a->strip_path) && !a->nhosts)
		rc = complain(CTL_USAGE,
			      "%s: --path and --strip-path apply to --host names; none given",
			      what);
	if (!rc && a->backend_tls && (!a->nhosts || (a->proto && !strcmp(a->proto, "tls"))))
		rc = complain(CTL_USAGE,
			      "%s: --backend-tls needs --host names with --proto http or https",
			      what);
	return rc;
}

/* `service add NAME [listen=EP] [host=H[/P]]... [path=P]... [strip_path=yes]
 * [proto=P] [backend_tls=yes]` */
static int build_service_add(const char *what, const struct sub_args *a, const char *listen,
			     struct request_line *r)
{
	add_word(r, "service");
	add_word(r, "add");
	add_word(r, "%s", a->pos[0]);
	if (a->listen)
		add_word(r, "listen=%s", listen);
	for (int i = 0; i < a->nhosts; i++)
		add_word(r, "host=%s", a->hosts[i]);
	for (int i = 0; i < a->npaths; i++)
		add_word(r, "path=%s", a->paths[i]);
	if (a->strip_path)
		add_word(r, "strip_path=yes");
	if (a->proto)
		add_word(r, "proto=%s", a->proto);
	if (a->backend_tls)
		add_word(r, "backend_tls=yes");
	if (!r->too_long && r->words <= CTL_REQUEST_MAX_WORDS)
		return CTL_OK;
	return complain(CTL_USAGE,
			"%s: too many or too long --host names for one request to xlbd "
			"(at most %d words, %d bytes); list them in the config file instead",
			what, CTL_REQUEST_MAX_WORDS, CTL_REQUEST_MAX_LEN);
}

static int service_add(struct ctl *ctl, int argc, char **argv)
{
	const char *what = "service add";
	char listen[XLB_EP_STRLEN];
	struct request_line req = { 0 };
	struct sub_args a;
	int rc = parse_sub_args(ctl, what, argc, argv,
				SUB_LISTEN | SUB_HOST | SUB_PROTO | SUB_PATH | SUB_STRIP_PATH |
					SUB_BACKEND_TLS,
				1, 1, &a);

	if (!rc)
		rc = check_service_add(what, &a, listen, sizeof(listen));
	if (!rc)
		rc = build_service_add(what, &a, listen, &req);
	if (rc)
		return rc;
	return run_request(ctl, req.text);
}

static int service_del(struct ctl *ctl, int argc, char **argv)
{
	const char *what = "service del";
	struct sub_args a;
	char req[256];
	int rc = parse_sub_args(ctl, what, argc, argv, 0, 1, 1, &a);

	if (!rc)
		rc = check_service_name(what, a.pos[0]);
	if (rc)
		return rc;
	snprintf(req, sizeof(req), "service del %s", a.pos[0]);
	return run_request(ctl, req);
}

/* `backend VERB SERVICE ADDR:PORT`, validated; the canonical endpoint goes
 * into ep. Only `add` takes --weight. */
static int parse_backend_args(struct ctl *ctl, const char *what, int argc, char **argv,
			      unsigned opts, struct sub_args *a, char *ep, size_t len)
{
	int rc = parse_sub_args(ctl, what, argc, argv, opts, 2, 2, a);

	if (!rc)
		rc = check_service_name(what, a->pos[0]);
	if (!rc)
		rc = check_endpoint(what, a->pos[1], XLB_EP_NO_PROTO, ep, len);
	return rc;
}

static int backend_add(struct ctl *ctl, int argc, char **argv)
{
	const char *what = "backend add";
	char ep[XLB_EP_STRLEN], req[256];
	unsigned long weight;
	struct sub_args a;
	int rc = parse_backend_args(ctl, what, argc, argv, SUB_WEIGHT, &a, ep, sizeof(ep));

	if (!rc)
		rc = parse_weight(what, a.weight, &weight);
	if (rc)
		return rc;
	snprintf(req, sizeof(req), "backend add %s %s weight=%lu", a.pos[0], ep, weight);
	return run_request(ctl, req);
}

/* drain and del take the same arguments and differ only in the verb. */
static int backend_simple(struct ctl *ctl, const char *verb, int argc, char **argv)
{
	char what[32], ep[XLB_EP_STRLEN], req[256];
	struct sub_args a;
	int rc;

	snprintf(what, sizeof(what), "backend %s", verb);
	rc = parse_backend_args(ctl, what, argc, argv, 0, &a, ep, sizeof(ep));
	if (rc)
		return rc;
	snprintf(req, sizeof(req), "backend %s %s %s", verb, a.pos[0], ep);
	return run_request(ctl, req);
}

int cmd_service(struct ctl *ctl, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb && strcmp(verb, "add") == 0)
		return service_add(ctl, argc - 1, argv + 1);
	if (verb && strcmp(verb, "del") == 0)
		return service_del(ctl, argc - 1, argv + 1);
	if (verb && (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0)) {
		print_usage(stdout);
		return CTL_OK;
	}
	return complain(CTL_USAGE, "service: expected 'add' or 'del'%s%s%s", verb ? ", not '" : "",
			verb ? verb : "", verb ? "'" : "");
}

int cmd_backend(struct ctl *ctl, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb && strcmp(verb, "add") == 0)
		return backend_add(ctl, argc - 1, argv + 1);
	if (verb && (strcmp(verb, "drain") == 0 || strcmp(verb, "del") == 0))
		return backend_simple(ctl, verb, argc - 1, argv + 1);
	if (verb && (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0)) {
		print_usage(stdout);
		return CTL_OK;
	}
	return complain(CTL_USAGE, "backend: expected 'add', 'drain' or 'del'%s%s%s",
			verb ? ", not '" : "", verb ? verb : "", verb ? "'" : "");
}
