// SPDX-License-Identifier: GPL-2.0
/* The INI config: a full valid file field by field, and every error by its
 * exact one-line message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/attach.h"
#include "lib/config.h"

static const char valid_config[] =
	"; xlb test config\n"
	"[http]\n"
	"listen = 0.0.0.0:80\n"
	"listen = [::]:80\n"
	"\n"
	"[tls]\n"
	"listen = 0.0.0.0:443\n"
	"\n"
	"# the L4 VIP and host routing together\n"
	"[service api]\n"
	"listen = 10.200.0.100:80/tcp\n"
	"host = api.app.dev\n"
	"host = *.API.Example.com\n"
	"proto = http\n"
	"backend = 10.200.1.2:8000\n"
	"backend = 10.200.2.2:8000 weight=3\n"
	"check_fall = 2\n" /* options before the check: any order */
	"check = http:/healthz?full=1\n"
	"check_interval = 1500ms\n"
	"\n"
	"[service dns]\n"
	"  listen = [fd00:200::101]:53/udp\n" /* indented: not a continuation */
	"  backend = [fd00:201::2]:53\n"
	"  backend = [fd00:202::2]:53\tweight=65535 ; inline comment\n"
	"\n"
	"[service web]\n"
	"host = www.app.dev\n"
	"proto = tls\n"
	"proxy_protocol = v2\n"
	"backend = 10.200.3.2:443\n"
	"check = tcp\n"
	"[service  udp-api ]\n"
	"listen = 10.200.0.100:80/udp\n" /* same VIP and port as api, other proto */
	"backend = 10.200.4.2:8000\n";

static void assert_ep(const struct xlb_endpoint *ep, const char *addr, uint16_t port, uint8_t proto)
{
	struct xlb_addr want;
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

	memset(&want, 0, sizeof(want));
	assert_int_equal(
		inet_pton(family, addr, family == AF_INET ? (void *)&want.v4 : (void *)want.v6), 1);
	assert_int_equal(ep->family, family);
	assert_memory_equal(&ep->addr, &want, sizeof(want));
	assert_int_equal(ep->port, port);
	assert_int_equal(ep->proto, proto);
}

static void assert_backend(const struct xlb_cfg_backend *be, const char *addr, uint16_t port,
			   uint32_t weight)
{
	assert_ep(&be->ep, addr, port, 0);
	assert_int_equal(be->weight, weight);
}

static void check_shared_listeners(const struct xlb_config *cfg)
{
	assert_int_equal(cfg->n_http_listen, 2);
	assert_ep(&cfg->http_listen[0], "0.0.0.0", 80, 0);
	assert_ep(&cfg->http_listen[1], "::", 80, 0);
	assert_int_equal(cfg->n_tls_listen, 1);
	assert_ep(&cfg->tls_listen[0], "0.0.0.0", 443, 0);
}

static void check_api(const struct xlb_cfg_service *s)
{
	assert_string_equal(s->name, "api");
	assert_true(s->has_listen);
	assert_ep(&s->listen, "10.200.0.100", 80, IPPROTO_TCP);
	assert_false(s->tls);
	assert_int_equal(s->n_hosts, 2);
	assert_string_equal(s->hosts[0], "api.app.dev");
	assert_string_equal(s->hosts[1], "*.api.example.com"); /* lowercased */
	assert_int_equal(s->n_backends, 2);
	assert_backend(&s->backends[0], "10.200.1.2", 8000, 1);
	assert_backend(&s->backends[1], "10.200.2.2", 8000, 3);
	assert_int_equal(s->check.kind, XLB_HC_HTTP);
	assert_string_equal(s->check.path, "/healthz?full=1");
	assert_int_equal(s->check.interval_ms, 1500);
	assert_int_equal(s->check.timeout_ms, XLB_HC_TIMEOUT_DEFAULT_MS);
	assert_int_equal(s->check.rise, XLB_HC_RISE_DEFAULT);
	assert_int_equal(s->check.fall, 2);
}

static void check_dns(const struct xlb_cfg_service *s)
{
	assert_string_equal(s->name, "dns");
	assert_true(s->has_listen);
	assert_ep(&s->listen, "fd00:200::101", 53, IPPROTO_UDP);
	assert_int_equal(s->n_hosts, 0);
	assert_int_equal(s->n_backends, 2);
	assert_backend(&s->backends[0], "fd00:201::2", 53, 1);
	assert_backend(&s->backends[1], "fd00:202::2", 53, 65535);
	assert_int_equal(s->check.kind, XLB_HC_NONE);
}

static void check_web_and_udp(const struct xlb_cfg_service *web, const struct xlb_cfg_service *udp)
{
	assert_string_equal(web->name, "web");
	assert_false(web->has_listen);
	assert_true(web->tls);
	assert_true(web->proxy_v2);
	assert_int_equal(web->n_hosts, 1);
	assert_string_equal(web->hosts[0], "www.app.dev");
	assert_int_equal(web->n_backends, 1);
	assert_backend(&web->backends[0], "10.200.3.2", 443, 1);
	/* a check with every default, as for the xlb.healthcheck label */
	assert_int_equal(web->check.kind, XLB_HC_TCP);
	assert_int_equal(web->check.interval_ms, XLB_HC_INTERVAL_DEFAULT_MS);
	assert_int_equal(web->check.timeout_ms, XLB_HC_TIMEOUT_DEFAULT_MS);
	assert_int_equal(web->check.rise, XLB_HC_RISE_DEFAULT);
	assert_int_equal(web->check.fall, XLB_HC_FALL_DEFAULT);

	assert_false(udp->proxy_v2);
	assert_string_equal(udp->name, "udp-api");
	assert_ep(&udp->listen, "10.200.0.100", 80, IPPROTO_UDP);
	assert_int_equal(udp->n_backends, 1);
}

static void check_valid_config(const struct xlb_config *cfg)
{
	check_shared_listeners(cfg);
	assert_int_equal(cfg->n_services, 4);
	check_api(&cfg->services[0]);
	check_dns(&cfg->services[1]);
	check_web_and_udp(&cfg->services[2], &cfg->services[3]);
}

static void test_valid_config(void **state)
{
	struct xlb_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(xlb_config_parse_string(valid_config, "t.ini", &cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	check_valid_config(&cfg);
	xlb_config_free(&cfg);
	assert_int_equal(cfg.n_services, 0);
	assert_null(cfg.services);
}

/* The same file with CRLF line ends and a UTF-8 byte order mark. */
static void test_crlf_and_bom(void **state)
{
	char text[sizeof(valid_config) * 2 + 4] = "\xef\xbb\xbf";
	struct xlb_config cfg;
	char err[256] = "";
	char *o = text + 3;

	(void)state;
	for (const char *c = valid_config; *c; c++) {
		if (*c == '\n')
			*o++ = '\r';
		*o++ = *c;
	}
	*o = '\0';
	assert_int_equal(xlb_config_parse_string(text, "t.ini", &cfg, err, sizeof(err)), 0);
	check_valid_config(&cfg);
	xlb_config_free(&cfg);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/xlb-test-config-XXXXXX";
	struct xlb_config cfg;
	char err[256] = "";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, valid_config, strlen(valid_config)),
			 (ssize_t)strlen(valid_config));
	close(fd);
	assert_int_equal(xlb_config_load(path, &cfg, err, sizeof(err)), 0);
	check_valid_config(&cfg);
	xlb_config_free(&cfg);
	unlink(path);
}

static void test_missing_file(void **state)
{
	struct xlb_config cfg;
	char err[256] = "";

	(void)state;
	memset(&cfg, 0x5a, sizeof(cfg));
	assert_int_equal(xlb_config_load("/nonexistent/xlb.ini", &cfg, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/xlb.ini: No such file or directory");
	assert_int_equal(cfg.n_services, 0);
	assert_null(cfg.services);
	/* opens, but reading fails */
	assert_int_equal(xlb_config_load("/", &cfg, err, sizeof(err)), -EISDIR);
	assert_string_equal(err, "/: Is a directory");
	assert_int_equal(cfg.n_services, 0);
}

struct err_case {
	const char *text;
	const char *err;
};

#define SVC "[service api]\n"
#define SVC_L SVC "listen = 10.0.0.1:80/tcp\n"

static const struct err_case err_cases[] = {
	/* sections */
	{ "[foo]\n", "t.ini:1: unknown section 'foo'" },
	{ "[http]\nlisten = 0.0.0.0:80\n\n[services api]\n",
	  "t.ini:4: unknown section 'services api'" },
	{ "listen = 10.0.0.1:80/tcp\n", "t.ini:1: key 'listen' outside any section" },
	/* the global keys */
	{ "hash_seed = 12345678123456789\n",
	  "t.ini:1: bad hash_seed '12345678123456789' (1 to 16 hex digits)" },
	{ "hash_seed = 0x\n", "t.ini:1: bad hash_seed '0x' (1 to 16 hex digits)" },
	{ "hash_seed = 5eed-1\n", "t.ini:1: bad hash_seed '5eed-1' (1 to 16 hex digits)" },
	{ "hash_seed = 1\nhash_seed = 2\n", "t.ini:2: hash_seed given twice" },
	{ "socket_lb = maybe\n", "t.ini:1: bad socket_lb 'maybe' (want yes or no)" },
	{ "attach = bpf\n", "t.ini:1: bad attach 'bpf' (want xdp, tc or auto)" },
	{ "attach = tc\nattach = xdp\n", "t.ini:2: attach given twice" },
	{ "socket_lb = no\nsocket_lb = no\n", "t.ini:2: socket_lb given twice" },
	{ "socket_lb_cgroup = sys/fs/cgroup\n",
	  "t.ini:1: bad socket_lb_cgroup 'sys/fs/cgroup' (an absolute path)" },
	{ "socket_lb_cgroup = /a\nsocket_lb_cgroup = /b\n",
	  "t.ini:2: socket_lb_cgroup given twice" },
	{ SVC "host = a.dev\nhash_seed = 1\n", "t.ini:3: service api: unknown key 'hash_seed'" },
	{ "[service a/b]\nhost = a.dev\n", "t.ini:1: invalid service name 'a/b'" },
	{ "[service]\nhost = a.dev\n", "t.ini:1: invalid service name ''" },
	{ "[service a b]\n", "t.ini:1: invalid service name 'a b'" },
	{ "[service 0123456789012345678901234567890123456789012345678901234567890123]\n",
	  "t.ini:1: invalid service name "
	  "'0123456789012345678901234567890123456789012345678901234567890123'" },
	{ SVC "host = a.dev\n[service web]\nhost = b.dev\n[service api]\nhost = c.dev\n",
	  "t.ini:5: duplicate service 'api' (first at line 1)" },
	/* unknown keys */
	{ SVC_L "lisen = 10.0.0.1:81/tcp\n", "t.ini:3: service api: unknown key 'lisen'" },
	{ SVC_L "proxy_protocol = v1\n",
	  "t.ini:3: service api: bad proxy_protocol 'v1' (want v2)" },
	{ "[http]\nport = 80\n", "t.ini:2: http: unknown key 'port'" },
	{ "[tls]\nhost = a.dev\n", "t.ini:2: tls: unknown key 'host'" },
	/* service listen */
	{ SVC "listen = 10.0.0.256:80/tcp\n",
	  "t.ini:2: service api: bad listen '10.0.0.256:80/tcp': invalid IPv4 address" },
	{ SVC "listen = [fd00::g]:80/tcp\n",
	  "t.ini:2: service api: bad listen '[fd00::g]:80/tcp': invalid IPv6 address" },
	{ SVC "listen = fd00::1:80/tcp\n",
	  "t.ini:2: service api: bad listen 'fd00::1:80/tcp': IPv6 address must be in brackets" },
	{ SVC "listen = 10.0.0.1/tcp\n",
	  "t.ini:2: service api: bad listen '10.0.0.1/tcp': missing port" },
	{ SVC "listen = 10.0.0.1:0/tcp\n",
	  "t.ini:2: service api: bad listen '10.0.0.1:0/tcp': port out of range" },
	{ SVC "listen = 10.0.0.1:65536/udp\n",
	  "t.ini:2: service api: bad listen '10.0.0.1:65536/udp': port out of range" },
	{ SVC "listen = 10.0.0.1:80/sctp\n",
	  "t.ini:2: service api: bad listen '10.0.0.1:80/sctp': unknown protocol 'sctp'" },
	{ SVC "listen = 10.0.0.1:80\n",
	  "t.ini:2: service api: bad listen '10.0.0.1:80': missing protocol (/tcp or /udp)" },
	{ SVC "listen =\n", "t.ini:2: service api: bad listen '': empty endpoint" },
	{ SVC_L "listen = 10.0.0.1:81/tcp\n",
	  "t.ini:3: service api: listen given twice (first at line 2)" },
	{ SVC "listen = 10.0.0.1:53/udp\n[service dns]\nlisten = 10.0.0.1:53/udp\n",
	  "t.ini:4: service dns: listen 10.0.0.1:53/udp already used by service api" },
	{ SVC "listen = [FD00::1]:53/udp\n[service dns]\nlisten = [fd00::1]:53/udp\n",
	  "t.ini:4: service dns: listen [fd00::1]:53/udp already used by service api" },
	{ "[http]\nlisten = 10.0.0.1:80\n" SVC_L,
	  "t.ini:4: service api: listen 10.0.0.1:80/tcp already used by http" },
	/* shared listeners are TCP and take no protocol */
	{ "[http]\nlisten = 0.0.0.0:80/tcp\n",
	  "t.ini:2: http: bad listen '0.0.0.0:80/tcp': unexpected protocol suffix "
	  "(shared listeners are always TCP)" },
	{ "[tls]\nlisten = 0.0.0.0:443/tcp\n",
	  "t.ini:2: tls: bad listen '0.0.0.0:443/tcp': unexpected protocol suffix "
	  "(shared listeners are always TCP)" },
	{ "[tls]\nlisten = 0.0.0.0\n", "t.ini:2: tls: bad listen '0.0.0.0': missing port" },
	{ "[http]\nlisten = 0.0.0.0:80\nlisten = 0.0.0.0:80\n",
	  "t.ini:3: http: listen 0.0.0.0:80 given twice" },
	{ "[http]\nlisten = 0.0.0.0:80\n[tls]\nlisten = 0.0.0.0:80\n",
	  "t.ini:4: tls: listen 0.0.0.0:80 already used by http" },
	{ SVC_L "[http]\nlisten = 10.0.0.1:80\n",
	  "t.ini:4: http: listen 10.0.0.1:80 already used by service api" },
	/* backends */
	{ SVC_L "backend = 10.0.0.2\n",
	  "t.ini:3: service api: bad backend '10.0.0.2': missing port" },
	{ SVC_L "backend = 10.0.0.2:80/tcp\n",
	  "t.ini:3: service api: bad backend '10.0.0.2:80/tcp': unexpected protocol suffix" },
	{ SVC_L "backend = 10.0.0.300:80 weight=2\n",
	  "t.ini:3: service api: bad backend '10.0.0.300:80': invalid IPv4 address" },
	{ SVC_L "backend =\n", "t.ini:3: service api: bad backend '': empty endpoint" },
	{ SVC_L "backend = 10.0.0.2:80 weight=0\n",
	  "t.ini:3: service api: backend 10.0.0.2:80: bad weight '0' (want 1..65535)" },
	{ SVC_L "backend = 10.0.0.2:80 weight=65536\n",
	  "t.ini:3: service api: backend 10.0.0.2:80: bad weight '65536' (want 1..65535)" },
	{ SVC_L "backend = 10.0.0.2:80 weight=99999999999999999999\n",
	  "t.ini:3: service api: backend 10.0.0.2:80: bad weight '99999999999999999999' "
	  "(want 1..65535)" },
	{ SVC_L "backend = 10.0.0.2:80 weight=2x\n",
	  "t.ini:3: service api: backend 10.0.0.2:80: bad weight '2x' (want 1..65535)" },
	{ SVC_L "backend = 10.0.0.2:80 weight=\n",
	  "t.ini:3: service api: backend 10.0.0.2:80: bad weight '' (want 1..65535)" },
	{ SVC_L "backend = 10.0.0.2:80 weight=-1\n",
	  "t.ini:3: service api: backend 10.0.0.2:80: bad weight '-1' (want 1..65535)" },
	{ SVC_L "backend = 10.0.0.2:80 wieght=2\n",
	  "t.ini:3: service api: backend 10.0.0.2:80: unknown option 'wieght=2'" },
	{ SVC_L "backend = 10.0.0.2:80 weight=2 weight=3\n",
	  "t.ini:3: service api: backend 10.0.0.2:80: weight given twice" },
	{ SVC_L "backend = 10.0.0.2:80\nbackend = 10.0.0.2:80 weight=2\n",
	  "t.ini:4: service api: duplicate backend 10.0.0.2:80" },
	{ SVC_L "backend = [fd00::2]:80\n",
	  "t.ini:3: service api: backend [fd00::2]:80 is IPv6 but listen 10.0.0.1:80/tcp is "
	  "IPv4 (no NAT between address families)" },
	{ SVC "backend = 10.0.0.2:80\nlisten = [fd00::1]:80/tcp\n",
	  "t.ini:3: service api: listen [fd00::1]:80/tcp is IPv6 but backend 10.0.0.2:80 is "
	  "IPv4 (no NAT between address families)" },
	/* hosts and proto */
	{ SVC "host = api..dev\n", "t.ini:2: service api: invalid host name 'api..dev'" },
	{ SVC "host = api.dev:80\n", "t.ini:2: service api: invalid host name 'api.dev:80'" },
	{ SVC "host = -api.dev\n", "t.ini:2: service api: invalid host name '-api.dev'" },
	{ SVC "host = a.*.dev\n", "t.ini:2: service api: invalid host name 'a.*.dev'" },
	{ SVC "host = *\n", "t.ini:2: service api: invalid host name '*'" },
	{ SVC "host = api.dev.\n", "t.ini:2: service api: invalid host name 'api.dev.'" },
	{ SVC "host =\n", "t.ini:2: service api: invalid host name ''" },
	{ SVC "host = a_b.dev\n", "t.ini:2: service api: invalid host name 'a_b.dev'" },
	{ SVC "host = ~a(b\n",
	  "t.ini:2: service api: bad regex at offset 3: missing closing parenthesis" },
	{ SVC "host = api.app.dev\n[service web]\nhost = API.app.dev\n",
	  "t.ini:4: service web: host api.app.dev already used by service api" },
	{ SVC "host = api.app.dev\nhost = api.app.dev\n",
	  "t.ini:3: service api: host api.app.dev given twice" },
	/* routes: host/path, path, strip_path */
	{ SVC "host = a.dev/api\n[service web]\nhost = a.dev/api/\n",
	  "t.ini:4: service web: route a.dev/api already used by service api" },
	{ SVC "host = a.dev\npath = /api\n[service web]\nhost = a.dev/api\n",
	  "t.ini:5: service web: route a.dev/api already used by service api" },
	{ SVC "host = a.dev/x\nhost = a.dev/x\n",
	  "t.ini:3: service api: host a.dev/x given twice" },
	{ SVC "host = a.dev/a b\n",
	  "t.ini:2: service api: bad path '/a b': has a space or control character" },
	{ SVC "host = a.dev/a/../b\n",
	  "t.ini:2: service api: bad path '/a/../b': has a '.' or '..' segment" },
	{ SVC "host = a.dev//x\n",
	  "t.ini:2: service api: bad path '//x': has an empty segment ('//')" },
	{ SVC "host = a.dev/x?y\n",
	  "t.ini:2: service api: bad path '/x?y': has '?' or '#' (a prefix is a path, no query)" },
	{ SVC "host = a.dev\npath = api\n",
	  "t.ini:3: service api: bad path 'api': does not start with '/'" },
	{ SVC "host = a.dev\npath = /"
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  "t.ini:3: service api: bad path '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': is longer than 127 "
	  "characters" },
	{ SVC "host = a.dev\npath = /x\npath = /x/\n",
	  "t.ini:4: service api: path /x given twice" },
	{ SVC "listen = 10.0.0.1:80/tcp\npath = /x\n",
	  "t.ini:3: service api: path without a host" },
	{ SVC "host = a.dev/x\nproto = tls\n",
	  "t.ini:2: service api: route a.dev/x: paths need proto http" },
	{ SVC "host = a.dev\nstrip_path = maybe\n",
	  "t.ini:3: service api: bad strip_path 'maybe' (want yes or no)" },
	{ SVC "host = a.dev\nstrip_path = yes\nstrip_path = no\n",
	  "t.ini:4: service api: strip_path given twice (first at line 3)" },
	{ SVC "host = a.dev\nforward_headers = off\n",
	  "t.ini:3: service api: bad forward_headers 'off' (want yes or no)" },
	{ SVC "host = a.dev\nforward_headers = no\nforward_headers = no\n",
	  "t.ini:4: service api: forward_headers given twice (first at line 3)" },
	/* trusted proxies */
	{ "[http]\ntrusted_proxies = 10.0.0.0/8 10.0.0.0/33\n",
	  "t.ini:2: http: bad trusted_proxies '10.0.0.0/33': prefix length out of range (0-32)" },
	{ "[http]\ntrusted_proxies = 10.0.0.0/8\ntrusted_proxies = 172.16.0.1/12\n",
	  "t.ini:3: http: bad trusted_proxies '172.16.0.1/12': host bits set (172.16.0.0/12?)" },
	{ "[http]\ntrusted_proxies = proxy.lan\n",
	  "t.ini:2: http: bad trusted_proxies 'proxy.lan': not an IPv4 or IPv6 address" },
	{ "[tls]\ntrusted_proxies = 10.0.0.0/8\n", "t.ini:2: tls: unknown key 'trusted_proxies'" },
	{ "[http]\ndefault_host = *.app.dev\n",
	  "t.ini:2: http: bad default_host '*.app.dev' (one host name, no wildcard)" },
	{ "[http]\ndefault_host = a.dev\ndefault_host = b.dev\n",
	  "t.ini:3: http: default_host given twice" },
	{ SVC "host = a.dev\nproto = udp\n",
	  "t.ini:3: service api: bad proto 'udp' (want http, https or tls)" },
	{ SVC "host = a.dev\nproto = HTTP\n",
	  "t.ini:3: service api: bad proto 'HTTP' (want http, https or tls)" },
	{ "[tls]\ncerts = /a\ncerts = /b\n", "t.ini:3: tls: certs given twice" },
	{ "[tls]\ncerts = certs.d\n", "t.ini:2: tls: certs 'certs.d' is not an absolute path" },
	{ "[http]\ncerts = /a\n", "t.ini:2: http: unknown key 'certs'" },
	{ SVC "host = a.dev\nacme = yes\n", "t.ini:3: service api: acme needs proto = https" },
	{ SVC "host = a.dev\nhttps_redirect = yes\n",
	  "t.ini:3: service api: https_redirect needs proto = https" },
	{ SVC "host = a.dev\nproto = https\nhsts = 1y\n",
	  "t.ini:4: service api: bad hsts '1y' (want seconds, or max-age=SECONDS with ; "
	  "includeSubDomains and ; preload)" },
	{ SVC "host = a.dev\nhsts = 10\n", "t.ini:3: service api: hsts needs proto = https" },
	{ SVC "host = a.dev\nhttps_only = yes\n",
	  "t.ini:3: service api: https_only needs proto = https" },
	{ SVC "host = a.dev\nproto = tls\nbackend_tls = yes\n",
	  "t.ini:4: service api: backend_tls needs host names with proto = http or https" },
	{ SVC_L "backend_tls = yes\n",
	  "t.ini:3: service api: backend_tls needs host names with proto = http or https" },
	{ SVC "host = a.dev\nbackend_tls = on\n",
	  "t.ini:3: service api: bad backend_tls 'on' (want yes or no)" },
	{ SVC "host = a.dev\nbackend_tls = yes\nbackend_tls = no\n",
	  "t.ini:4: service api: backend_tls given twice (first at line 3)" },
	{ SVC "host = a.dev\nproto = https\nhsts = max-age=10; nosniff\n",
	  "t.ini:4: service api: bad hsts 'max-age=10; nosniff' (want seconds, or "
	  "max-age=SECONDS with ; includeSubDomains and ; preload)" },
	{ SVC "host = a.dev\nproto = https\nacme = maybe\n",
	  "t.ini:4: service api: bad acme 'maybe' (want yes or no)" },
	{ SVC "host = a.dev\nproto = tls\nproto = http\n",
	  "t.ini:4: service api: proto given twice" },
	/* health checks: the spec parser's reasons, at the key's line */
	{ SVC_L "check = udp\n",
	  "t.ini:3: service api: check: unknown check kind \"udp\" (want tcp or http:/path)" },
	{ SVC_L "check = http\n",
	  "t.ini:3: service api: check: http check needs a path (http:/path)" },
	{ SVC_L "check = http:healthz\n",
	  "t.ini:3: service api: check: http path must start with '/'" },
	{ SVC_L "check = tcp\ncheck = http:/\n",
	  "t.ini:4: service api: check given twice (first at line 3)" },
	{ SVC_L "check = tcp\ncheck_interval = 5x\n",
	  "t.ini:4: service api: check_interval \"5x\" is not a duration (like 500ms, 2s or 1m)" },
	{ SVC_L "check = tcp\ncheck_interval = 1.5s\n",
	  "t.ini:4: service api: check_interval \"1.5s\" is not a duration (like 500ms, 2s or 1m)" },
	{ SVC_L "check = tcp\ncheck_interval = 50ms\n",
	  "t.ini:4: service api: check_interval \"50ms\" out of range (100ms to 60m)" },
	{ SVC_L "check = tcp\ncheck_timeout = 5ms\n",
	  "t.ini:4: service api: check_timeout \"5ms\" out of range (10ms to 60m)" },
	{ SVC_L "check = tcp\ncheck_rise = 0\n",
	  "t.ini:4: service api: check_rise \"0\" is not a whole number from 1 to 100" },
	{ SVC_L "check = tcp\ncheck_fall = 101\n",
	  "t.ini:4: service api: check_fall \"101\" is not a whole number from 1 to 100" },
	{ SVC_L "check = tcp\ncheck_fall = -1\n",
	  "t.ini:4: service api: check_fall \"-1\" is not a whole number from 1 to 100" },
	{ SVC_L "check = tcp\ncheck_rise = 2\ncheck_rise = 3\n",
	  "t.ini:5: service api: check_rise given twice (first at line 4)" },
	{ SVC_L "check = tcp\ncheck_retries = 3\n",
	  "t.ini:4: service api: unknown key 'check_retries'" },
	/* timing that does not fit: at the later of the interval and timeout */
	{ SVC_L "check_timeout = 2s\ncheck = tcp\ncheck_interval = 1s\nbackend = 10.0.0.2:80\n",
	  "t.ini:5: service api: check: timeout 2s is longer than interval 1s" },
	{ SVC_L "check_interval = 1s\ncheck_timeout = 1500ms\ncheck = tcp\n",
	  "t.ini:4: service api: check: timeout 1500ms is longer than interval 1s" },
	{ SVC_L "check = tcp\ncheck_interval = 500ms\n[service web]\nhost = w.dev\n",
	  "t.ini:4: service api: check: timeout 1s is longer than interval 500ms" },
	{ SVC_L "check_fall = 2\ncheck_rise = 2\nbackend = 10.0.0.2:80\n[http]\n",
	  "t.ini:3: service api: check options without a check (add check = tcp or "
	  "check = http:/path)" },
	/* a service must be reachable: reported at its header line */
	{ SVC "backend = 10.0.0.2:80\n\n[http]\nlisten = 0.0.0.0:80\n",
	  "t.ini:1: service api: has neither listen nor host" },
	{ "[http]\nlisten = 0.0.0.0:80\n" SVC "proto = tls\nbackend = 10.0.0.2:80\n",
	  "t.ini:3: service api: has neither listen nor host" },
	{ SVC, "t.ini:1: service api: has neither listen nor host" },
	/* inih's syntax errors, and lines too long for it */
	{ SVC "listen\n", "t.ini:2: syntax error (want [section] or key = value)" },
	/* inih also takes ':' as the separator, so a forgotten '=' reads so */
	{ SVC "listen 10.0.0.1:80/tcp\n", "t.ini:2: service api: unknown key 'listen 10.0.0.1'" },
	{ "[service api\nhost = a.dev\n", "t.ini:1: syntax error (want [section] or key = value)" },
	/* the first error is the one reported */
	{ SVC "lisen = x\nfoo = y\n[bar]\n", "t.ini:2: service api: unknown key 'lisen'" },
	{ SVC "listen = 10.0.0.1:80/tcp\n  garbage\n[bar]\n",
	  "t.ini:3: syntax error (want [section] or key = value)" },
	{ SVC "backend = 10.0.0.2:80\n  garbage\n[bar]\n",
	  "t.ini:3: syntax error (want [section] or key = value)" },
};

/* Parses text, which must fail with exactly want; cfg must come back empty. */
static void expect_error(const char *text, const char *want)
{
	struct xlb_config cfg, empty;
	char err[512] = "";
	int ret;

	memset(&empty, 0, sizeof(empty));
	memset(&cfg, 0x5a, sizeof(cfg));
	ret = xlb_config_parse_string(text, "t.ini", &cfg, err, sizeof(err));
	if (ret != -EINVAL || strcmp(err, want) != 0)
		fail_msg("config:\n%s\ngot %d '%s'\nwant '%s'", text, ret, err, want);
	assert_memory_equal(&cfg, &empty, sizeof(cfg));
}

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++)
		expect_error(err_cases[i].text, err_cases[i].err);
}

/* inih reads lines into a 200-byte buffer; longer lines are refused
 * rather than split into two. */
/* host = H/P, path = P for the hosts without one, strip_path. */
static void test_routes(void **state)
{
	static const char text[] = "[service app]\n"
				   "host = app.app.dev\n"
				   "[service api]\n"
				   "host = APP.app.dev/api/\n"
				   "host = api.app.dev\n"
				   "host = *.x.dev\n"
				   "path = /v1\n"
				   "path = /v2\n"
				   "strip_path = yes\n";
	struct xlb_config cfg;
	const struct xlb_cfg_service *app, *api;
	char err[256] = "";

	(void)state;
	assert_int_equal(xlb_config_parse_string(text, "t.ini", &cfg, err, sizeof(err)), 0);
	app = &cfg.services[0];
	api = &cfg.services[1];
	assert_int_equal(app->n_hosts, 1);
	assert_string_equal(xlb_cfg_route_path(app, 0), "/");
	assert_false(app->strip_path);
	assert_true(api->strip_path);
	assert_int_equal(api->n_hosts, 5);
	assert_string_equal(api->hosts[0], "app.app.dev"); /* its own path */
	assert_string_equal(xlb_cfg_route_path(api, 0), "/api");
	assert_string_equal(api->hosts[1], "api.app.dev"); /* the service's paths */
	assert_string_equal(xlb_cfg_route_path(api, 1), "/v1");
	assert_string_equal(api->hosts[2], "api.app.dev");
	assert_string_equal(xlb_cfg_route_path(api, 2), "/v2");
	assert_string_equal(api->hosts[3], "*.x.dev");
	assert_string_equal(xlb_cfg_route_path(api, 3), "/v1");
	assert_string_equal(xlb_cfg_route_path(api, 4), "/v2");
	xlb_config_free(&cfg);
}

/* [http] trusted_proxies (repeatable, spaces or commas), forward_headers. */
static void test_forwarding_keys(void **state)
{
	static const char text[] = "[http]\n"
				   "listen = 0.0.0.0:80\n"
				   "trusted_proxies = 10.200.0.2, fd00:200::/64\n"
				   "trusted_proxies = 172.16.0.0/12\n"
				   "[service app]\n"
				   "host = app.app.dev\n"
				   "[service raw]\n"
				   "host = raw.app.dev\n"
				   "forward_headers = no\n"
				   "[service on]\n"
				   "host = on.app.dev\n"
				   "forward_headers = yes\n";
	struct xlb_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(xlb_config_parse_string(text, "t.ini", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_trusted, 3);
	assert_int_equal(cfg.trusted[0].family, AF_INET);
	assert_int_equal(cfg.trusted[0].prefix, 32);
	assert_int_equal(cfg.trusted[1].family, AF_INET6);
	assert_int_equal(cfg.trusted[1].prefix, 64);
	assert_int_equal(cfg.trusted[2].prefix, 12);
	assert_false(cfg.services[0].no_forward_headers); /* the default */
	assert_true(cfg.services[1].no_forward_headers);
	assert_false(cfg.services[2].no_forward_headers);
	xlb_config_free(&cfg);
}

/* hash_seed, a global key: before the first section; hex, "0x" or not. */
static void test_hash_seed(void **state)
{
	static const char text[] = "hash_seed = 0x5EED0123abcd4567\n"
				   "[service api]\n"
				   "listen = 10.0.0.1:80/tcp\n";
	struct xlb_config cfg;
	uint64_t seed = 0;
	char err[256] = "";

	(void)state;
	assert_int_equal(xlb_config_parse_string(text, "t.ini", &cfg, err, sizeof(err)), 0);
	assert_true(cfg.has_hash_seed);
	assert_true(cfg.hash_seed == 0x5eed0123abcd4567ULL);
	xlb_config_free(&cfg);
	assert_int_equal(xlb_config_parse_string("[service api]\nlisten = 10.0.0.1:80/tcp\n",
						 "t.ini", &cfg, err, sizeof(err)),
			 0);
	assert_false(cfg.has_hash_seed);
	xlb_config_free(&cfg);
	assert_int_equal(xlb_parse_hash_seed("ffffffffffffffff", &seed), 0);
	assert_true(seed == UINT64_MAX);
	assert_int_equal(xlb_parse_hash_seed("0", &seed), 0);
	assert_true(seed == 0);
	assert_int_equal(xlb_parse_hash_seed("", &seed), -EINVAL);
	assert_int_equal(xlb_parse_hash_seed(" 1", &seed), -EINVAL);
	assert_int_equal(xlb_parse_hash_seed("10000000000000000", &seed), -EINVAL);
}

/* socket_lb and socket_lb_cgroup, global keys: off only when said so. */
static void test_socket_lb_keys(void **state)
{
	static const char text[] = "socket_lb = no\n"
				   "socket_lb_cgroup = /sys/fs/cgroup/xlb.slice\n"
				   "[service api]\n"
				   "listen = 10.0.0.1:80/tcp\n";
	struct xlb_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(xlb_config_parse_string(text, "t.ini", &cfg, err, sizeof(err)), 0);
	assert_true(cfg.has_socket_lb);
	assert_true(cfg.no_socket_lb);
	assert_string_equal(cfg.socket_lb_cgroup, "/sys/fs/cgroup/xlb.slice");
	xlb_config_free(&cfg);
	assert_int_equal(
		xlb_config_parse_string("socket_lb = yes\n", "t.ini", &cfg, err, sizeof(err)), 0);
	assert_false(cfg.no_socket_lb);
	assert_null(cfg.socket_lb_cgroup);
	assert_false(cfg.has_attach);
	xlb_config_free(&cfg);
	assert_int_equal(xlb_config_parse_string("attach = tc\n", "t.ini", &cfg, err, sizeof(err)),
			 0);
	assert_true(cfg.has_attach);
	assert_int_equal(cfg.attach, XLB_ATTACH_TC);
	xlb_config_free(&cfg);
}

/* HSTS in both forms, the header's directives in any case, each once. */
static void test_hsts_parse(void **state)
{
	uint32_t secs;
	uint8_t flags;

	(void)state;
	assert_int_equal(xlb_hsts_parse("600", &secs, &flags), 0);
	assert_int_equal(secs, 600);
	assert_int_equal(flags, 0);
	assert_int_equal(
		xlb_hsts_parse("max-age=31536000; includeSubDomains; preload", &secs, &flags), 0);
	assert_int_equal(secs, 31536000);
	assert_int_equal(flags, XLB_HSTS_SUBDOMAINS | XLB_HSTS_PRELOAD);
	assert_int_equal(xlb_hsts_parse("Max-Age=5;includesubdomains", &secs, &flags), 0);
	assert_int_equal(flags, XLB_HSTS_SUBDOMAINS);
	assert_int_equal(xlb_hsts_parse("max-age=5; preload; preload", &secs, &flags), -EINVAL);
	assert_int_equal(xlb_hsts_parse("max-age=; preload", &secs, &flags), -EINVAL);
	assert_int_equal(xlb_hsts_parse("1y", &secs, &flags), -EINVAL);
	assert_int_equal(xlb_hsts_parse("99999999999", &secs, &flags), -EINVAL);
	assert_int_equal(xlb_hsts_parse("", &secs, &flags), -EINVAL);
}

/* [http] default_host: kept as given (routing lowercases). */
static void test_default_host(void **state)
{
	struct xlb_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(xlb_config_parse_string("[http]\ndefault_host = App.app.dev\n", "t.ini",
						 &cfg, err, sizeof(err)),
			 0);
	assert_string_equal(cfg.default_host, "App.app.dev");
	xlb_config_free(&cfg);
	assert_int_equal(xlb_config_parse_string("[http]\n", "t.ini", &cfg, err, sizeof(err)), 0);
	assert_null(cfg.default_host);
	xlb_config_free(&cfg);
}

/* proto = https: every route of the service is https (its TLS is
 * terminated); [tls] certs names the certificate directory. */
static void test_https(void **state)
{
	static const char text[] = "[tls]\n"
				   "listen = 0.0.0.0:443\n"
				   "certs = /etc/xlb/certs\n"
				   "[service app]\n"
				   "host = app.app.dev\n"
				   "host = app.app.dev/api\n"
				   "proto = https\n"
				   "acme = yes\n"
				   "https_redirect = yes\n"
				   "hsts = 600\n"
				   "[service plain]\n"
				   "host = plain.app.dev\n";
	struct xlb_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(xlb_config_parse_string(text, "t.ini", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.tls_certs, "/etc/xlb/certs");
	assert_true(cfg.services[0].https);
	assert_true(cfg.services[0].acme);
	assert_true(cfg.services[0].https_redirect);
	assert_int_equal(cfg.services[0].hsts_secs, 600);
	assert_false(cfg.services[1].acme);
	assert_false(cfg.services[0].tls);
	assert_int_equal(cfg.services[0].n_hosts, 2);
	assert_int_equal(cfg.services[0].paths[0].scheme, XLB_SCHEME_HTTPS);
	assert_int_equal(cfg.services[0].paths[1].scheme, XLB_SCHEME_HTTPS);
	assert_string_equal(cfg.services[0].paths[1].prefix, "/api");
	assert_false(cfg.services[1].https);
	assert_int_equal(cfg.services[1].paths[0].scheme, XLB_SCHEME_HTTP);
	xlb_config_free(&cfg);
}

/* backend_tls: off by default, on for proto http and https, and what a
 * parsed service says written back as its key parses the same. */
static void test_backend_tls(void **state)
{
	static const char text[] = "[service plain]\n"
				   "host = plain.app.dev\n"
				   "[service http]\n"
				   "host = http.app.dev\n"
				   "backend_tls = yes\n"
				   "[service both]\n"
				   "host = both.app.dev\n"
				   "proto = https\n"
				   "backend_tls = true\n"
				   "[service off]\n"
				   "listen = 10.0.0.1:80/tcp\n"
				   "host = off.app.dev\n"
				   "backend_tls = no\n";
	struct xlb_config cfg, again;
	char err[256] = "", back[512];
	size_t used = 0;

	(void)state;
	assert_int_equal(xlb_config_parse_string(text, "t.ini", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_services, 4);
	assert_false(cfg.services[0].backend_tls);
	assert_true(cfg.services[1].backend_tls);
	assert_true(cfg.services[2].backend_tls);
	assert_true(cfg.services[2].https);
	assert_false(cfg.services[3].backend_tls);
	for (size_t i = 0; i < cfg.n_services; i++)
		used += (size_t)snprintf(back + used, sizeof(back) - used,
					 "[service %s]\nhost = %s\nproto = %s\nbackend_tls = %s\n",
					 cfg.services[i].name, cfg.services[i].hosts[0],
					 cfg.services[i].https ? "https" : "http",
					 cfg.services[i].backend_tls ? "yes" : "no");
	assert_true(used < sizeof(back));
	assert_int_equal(xlb_config_parse_string(back, "back.ini", &again, err, sizeof(err)), 0);
	for (size_t i = 0; i < cfg.n_services; i++)
		assert_int_equal(again.services[i].backend_tls, cfg.services[i].backend_tls);
	xlb_config_free(&again);
	xlb_config_free(&cfg);
}

static void test_line_too_long(void **state)
{
	char text[512];
	char host[240];

	(void)state;
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(text, sizeof(text), "[service api]\nhost = %s\n", host);
	expect_error(text, "t.ini:2: line too long (max 198 characters)");
}

static void test_too_many_services(void **state)
{
	size_t len = (XLB_MAX_SERVICES + 1) * 48;
	char *text = malloc(len), *o = text;
	char want[64];

	(void)state;
	assert_non_null(text);
	for (int i = 0; i <= XLB_MAX_SERVICES; i++)
		o += sprintf(o, "[service s%d]\nhost = s%d.dev\n", i, i);
	snprintf(want, sizeof(want), "t.ini:%d: too many services (max %d)",
		 2 * XLB_MAX_SERVICES + 1, XLB_MAX_SERVICES);
	expect_error(text, want);
	free(text);
}

static void test_empty_config(void **state)
{
	struct xlb_config cfg;
	char err[64] = "";

	(void)state;
	assert_int_equal(xlb_config_parse_string("; nothing\n\n", "t.ini", &cfg, err, sizeof(err)),
			 0);
	assert_int_equal(cfg.n_services + cfg.n_http_listen + cfg.n_tls_listen, 0);
	xlb_config_free(&cfg);
}

static void test_name_validators(void **state)
{
	(void)state;
	assert_true(xlb_valid_service_name("compose_api-1.v2"));
	assert_false(xlb_valid_service_name(""));
	assert_false(xlb_valid_service_name("a:b"));
	assert_true(xlb_valid_host_name("localhost"));
	assert_true(xlb_valid_host_name("*.app.dev"));
	assert_true(xlb_valid_host_name("1.example.com"));
	assert_false(xlb_valid_host_name("*."));
	assert_false(xlb_valid_host_name("a-.dev"));
	assert_true(xlb_valid_host_name("app.example.*"));
	assert_true(xlb_valid_host_name("app.*"));
	assert_false(xlb_valid_host_name(".*"));
	assert_false(xlb_valid_host_name("*.app.*"));
	assert_false(xlb_valid_host_name("app.*.*"));
	assert_false(xlb_valid_host_name("app-.*"));
	assert_true(xlb_valid_host_name("~^api\\d+\\.example\\.tld$"));
	assert_false(xlb_valid_host_name("~a(b"));
	/* a regex holds what a Host header can: no blanks, controls, 8-bit */
	assert_false(xlb_valid_host_name("~^a b$"));
	assert_false(xlb_valid_host_name("~^ab "));
	assert_false(xlb_valid_host_name("~^a\tb"));
	assert_false(xlb_valid_host_name("~^a\x7f"
					 "b"));
	assert_false(xlb_valid_host_name("~^\xc3\xa9$"));
	assert_false(xlb_valid_host_name(
		"a234567890123456789012345678901234567890123456789012345678901234.dev"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_config),	cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_load_file),	cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_errors),		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_routes),		cmocka_unit_test(test_too_many_services),
		cmocka_unit_test(test_forwarding_keys), cmocka_unit_test(test_https),
		cmocka_unit_test(test_default_host),	cmocka_unit_test(test_hsts_parse),
		cmocka_unit_test(test_empty_config),	cmocka_unit_test(test_name_validators),
		cmocka_unit_test(test_hash_seed),	cmocka_unit_test(test_socket_lb_keys),
		cmocka_unit_test(test_backend_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
