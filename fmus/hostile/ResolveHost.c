/* ResolveHost.c - hostile FMU: resolves a host name (target, default
 * example.com) with getaddrinfo in fmi2DoStep; if the resolver gives up,
 * sends a DNS query itself over UDP to 127.0.0.1:53 (or :port). */
#include "hostile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A query for `name` type A class IN into buf; its length, 0 if too long. */
static size_t dns_query(unsigned char *buf, size_t size, const char *name)
{
    static const unsigned char head[12] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
    size_t n = sizeof head;

    if (strlen(name) + sizeof head + 6 > size)
        return 0;
    memcpy(buf, head, n);
    while (*name) {
        size_t len = strcspn(name, ".");
        if (len == 0 || len > 63)
            return 0;
        buf[n++] = (unsigned char)len;
        memcpy(buf + n, name, len);
        n += len;
        name += len;
        if (*name == '.')
            name++;
    }
    buf[n++] = 0;
    buf[n++] = 0, buf[n++] = 1; /* A */
    buf[n++] = 0, buf[n++] = 1; /* IN */
    return n;
}

static int attack(hostile_ctx *h)
{
    const char *name = hostile_target(h)[0] ? hostile_target(h) : "example.com";
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    struct sockaddr_in ns = { .sin_family = AF_INET };
    unsigned char q[300], reply[512];
    char addr[INET6_ADDRSTRLEN] = "?";
    int rc, fd;
    size_t n;
    ssize_t got;

    rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc == 0) {
        void *p = res->ai_family == AF_INET ? (void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
                                            : (void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
        inet_ntop(res->ai_family, p, addr, sizeof addr);
        freeaddrinfo(res);
        hostile_loot(h, "resolved %s to %s", name, addr);
        return 0;
    }
    hostile_note(h, "getaddrinfo %s: %s; asking 127.0.0.1 directly", name, gai_strerror(rc));
    if (!(n = dns_query(q, sizeof q, name)))
        return hostile_fail(h, "bad host name %s", name);
    ns.sin_port = htons((unsigned short)(hostile_port(h) > 0 ? hostile_port(h) : 53));
    ns.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return hostile_fail(h, "getaddrinfo: %s; socket: %s", gai_strerror(rc), strerror(errno));
    if (sendto(fd, q, n, 0, (struct sockaddr *)&ns, sizeof ns) < 0) {
        int e = errno;
        close(fd);
        return hostile_fail(h, "getaddrinfo: %s; sendto: %s", gai_strerror(rc), strerror(e));
    }
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    got = poll(&pfd, 1, 1000) == 1 ? recv(fd, reply, sizeof reply, 0) : -1;
    close(fd);
    if (got <= 0)
        return hostile_fail(h, "getaddrinfo: %s; no DNS reply", gai_strerror(rc));
    hostile_loot(h, "sent a DNS query for %s, got a %zd-byte reply", name, got);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
