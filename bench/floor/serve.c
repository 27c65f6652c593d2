/* The floor for `probe serve`'s answers (bench/serve.sh): the least an HTTP server can do
 * per request. Blocking accept, read the request head (up to 8 KiB), write a fixed 200,
 * close; one request per connection, as the kubelet asks. No parsing, no limits, no
 * timeouts: what the kernel's TCP costs per GET, against which serve's own work shows.
 * Built static with musl-gcc by bench/run. Usage: serve PORT (prints nothing; SIGTERM ends it) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 3;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 4096) != 0)
        return 1;
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
    char head[8192];
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        size_t got = 0;
        ssize_t n;
        while (got < sizeof head && (n = read(fd, head + got, sizeof head - got)) > 0) {
            got += n;
            if (got >= 4 && memmem(head, got, "\r\n\r\n", 4)) break;
        }
        if (write(fd, answer, sizeof answer - 1) < 0) {}
        close(fd);
    }
}
