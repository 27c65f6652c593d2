/* The floor for `probe http`: GET over IPv4, read the status line, 2xx/3xx is healthy. No
 * resolver, no TLS, no timeout, no report. Built static with musl-gcc by bench/run.
 * Usage: http IP PORT PATH */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) return 3;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) return 3;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return 1;
    char request[512];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", argv[3], argv[1]);
    if (write(fd, request, n) != n) return 1;
    char reply[64] = {0};
    if (read(fd, reply, sizeof reply - 1) < 12 || strncmp(reply, "HTTP/1.", 7) != 0) return 1;
    close(fd);
    return (reply[9] == '2' || reply[9] == '3') ? 0 : 1;
}
