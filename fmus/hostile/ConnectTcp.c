/* ConnectTcp.c - hostile FMU: opens a TCP connection to 127.0.0.1:port in
 * fmi2DoStep and sends a line. (target is not used: tests put a tag there.) */
#include "hostile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    const char *ip = "127.0.0.1";
    const char msg[] = "hello from a hostile FMU\n";
    int port = hostile_port(h), fd, e;

    if (port <= 0 || port > 65535)
        return hostile_fail(h, "no port given (parameter port)");
    inet_pton(AF_INET, ip, &a.sin_addr);
    a.sin_port = htons((unsigned short)port);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return hostile_fail(h, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        e = errno;
        close(fd);
        return hostile_fail(h, "connect %s:%d: %s", ip, port, strerror(e));
    }
    if (write(fd, msg, sizeof msg - 1) < 0)
        hostile_note(h, "write: %s", strerror(errno));
    close(fd);
    hostile_loot(h, "connected to %s:%d", ip, port);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
