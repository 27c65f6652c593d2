/* Answer latency of `probe serve` under concurrent clients (bench/serve.sh): THREADS
 * threads, each asking GET PATH over a new connection (as the kubelet does) again and
 * again for SECONDS, timing each from connect to the end of the answer. Prints the count,
 * the failures (no 200/503 status line), and p50, p99 and the maximum in ms. Built static
 * with musl-gcc by bench/run.
 * Usage: serve_load IP PORT PATH THREADS SECONDS */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1 << 20)

static struct sockaddr_in addr;
static char request[512];
static int request_len;
static double until;
static double *samples;
static long count, failures;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *client(void *unused) {
    (void)unused;
    char reply[4096];
    while (now() < until) {
        double started = now();
        int ok = 0;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
            write(fd, request, request_len) == request_len) {
            ssize_t n, total = 0;
            while ((n = read(fd, reply + total, sizeof reply - 1 - total)) > 0) {
                total += n;
                if (total == sizeof reply - 1) total = 12; /* keep the status line */
            }
            ok = total >= 12 && (strncmp(reply, "HTTP/1.1 200", 12) == 0 ||
                                 strncmp(reply, "HTTP/1.1 503", 12) == 0);
        }
        if (fd >= 0) close(fd);
        double took = now() - started;
        pthread_mutex_lock(&lock);
        if (!ok) failures++;
        else if (count < MAX_SAMPLES) samples[count++] = took;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 6) return 3;
    addr.sin_family = AF_INET;
    addr.sin_port = htons(atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) return 3;
    request_len = snprintf(request, sizeof request,
                           "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: kube-probe/1.31\r\n"
                           "Accept: */*\r\nConnection: close\r\n\r\n",
                           argv[3], argv[1], argv[2]);
    int threads = atoi(argv[4]);
    samples = malloc(sizeof(double) * MAX_SAMPLES);
    pthread_t *ids = malloc(sizeof(pthread_t) * threads);
    if (!samples || !ids || threads < 1) return 3;
    until = now() + atof(argv[5]);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&ids[i], &attr, client, NULL) != 0) return 1;
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    if (count == 0) {
        printf("0 %ld 0 0 0\n", failures);
        return 1;
    }
    qsort(samples, count, sizeof(double), compare);
    printf("%ld %ld %.3f %.3f %.3f\n", count, failures, samples[count / 2] * 1000,
           samples[(long)((count - 1) * 0.99)] * 1000, samples[count - 1] * 1000);
    return failures ? 1 : 0;
}
