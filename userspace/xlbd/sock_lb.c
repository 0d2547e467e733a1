// SPDX-License-Identifier: GPL-2.0
#include "sock_lb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "lib/log.h"
#include "sock_lb.skel.h"

#define SOCK_LB_PROGS 8

struct xlb_sock_lb {
	struct sock_lb *skel;
	struct bpf_link *links[SOCK_LB_PROGS];
	int n_links;
	char cgroup[PATH_MAX];
};

/* ---- the cgroup v2 mount ------------------------------------------------------ */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++, w++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w = *s;
		}
	}
	*w = '\0';
}

/* A mountinfo line's mount point when its file system is cgroup2: the
 * fifth field, and the type is the first one after the " - ". */
static bool cgroup2_mount_point(char *line, char **mnt)
{
	char *sep = strstr(line, " - "), *save = NULL, *f;

	if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
		return false;
	*sep = '\0';
	f = strtok_r(line, " ", &save);
	for (int i = 1; f && i < 5; i++)
		f = strtok_r(NULL, " ", &save);
	if (!f)
		return false;
	unescape_octal(f);
	*mnt = f;
	return true;
}

int xlb_sock_lb_default_cgroup(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *mnt;
	size_t cap = 0;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (err == -ENOENT && getline(&line, &cap, f) > 0) {
		if (cgroup2_mount_point(line, &mnt))
			err = snprintf(buf, len, "%s", mnt) < (int)len ? 0 : -ENAMETOOLONG;
	}
	free(line);
	fclose(f);
	return err;
}

/* ---- load and attach ----------------------------------------------------------- */

/* The object is built over maps.bpf.h, which declares every map of the
 * data path; the hooks use these, and the rest are not made again. */
static bool map_used(const struct bpf_map *m)
{
	static const char *const used[] = {
		"xlb_services",	 "xlb_backends", "xlb_maglev",	"xlb_dp_config",
		"xlb_svc_stats", "xlb_be_stats", "xlb_reasons", "xlb_sock_lb",
	};
	const char *name = bpf_map__name(m);

	for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
		if (!strcmp(name, used[i]))
			return true;
	return false;
}

static int open_over_pins(const char *pin_dir, struct sock_lb **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	struct sock_lb *skel = sock_lb__open_opts(&oo);
	struct bpf_map *m;
	int err;

	if (!skel)
		return -errno;
	bpf_object__for_each_map (m, skel->obj) {
		if (!map_used(m) && (err = bpf_map__set_autocreate(m, false))) {
			sock_lb__destroy(skel);
			return err;
		}
	}
	err = sock_lb__load(skel);
	if (err) {
		sock_lb__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

static int attach_all(struct xlb_sock_lb *s, int cgroup_fd)
{
	struct bpf_program *p;

	bpf_object__for_each_program (p, s->skel->obj) {
		struct bpf_link *l;

		if (s->n_links == SOCK_LB_PROGS)
			return -E2BIG;
		l = bpf_program__attach_cgroup(p, cgroup_fd);
		if (!l)
			return -errno;
		s->links[s->n_links++] = l;
	}
	return 0;
}

int xlb_sock_lb_attach(const char *pin_dir, const char *cgroup, struct xlb_sock_lb **out)
{
	struct xlb_sock_lb *s = calloc(1, sizeof(*s));
	int fd = -1, err;

	if (!s)
		return -ENOMEM;
	snprintf(s->cgroup, sizeof(s->cgroup), "%s", cgroup);
	err = open_over_pins(pin_dir, &s->skel);
	if (!err) {
		fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		err = fd < 0 ? -errno : attach_all(s, fd);
	}
	if (fd >= 0)
		close(fd); /* each link holds the cgroup */
	if (err) {
		xlb_sock_lb_free(s);
		return err;
	}
	pr_info("event=socket_lb_attached cgroup=%s programs=%d", s->cgroup, s->n_links);
	*out = s;
	return 0;
}

int xlb_sock_lb_describe(const struct xlb_sock_lb *s, char *buf, size_t len)
{
	int n = snprintf(buf, len, "on cgroup=%s programs=%d", s->cgroup, s->n_links);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void xlb_sock_lb_free(struct xlb_sock_lb *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n_links; i++)
		bpf_link__destroy(s->links[i]);
	sock_lb__destroy(s->skel);
	free(s);
}
