/* Paired wall-clock timing for bench/startup.sh. Runs command A and command B alternately,
 * A B B A per round, so machine noise (another build on the shared cores, a frequency step)
 * falls on both and neither is always first. Each run is posix_spawn + waitpid between two
 * CLOCK_MONOTONIC readings, in this process's own environment, stdin/stdout/stderr on
 * /dev/null; every run must exit 0 or the whole measurement fails (a failing check must
 * never be timed as a fast one). Prints the median of A and of B in ms and the median of the
 * per-round ratios A/B (steadier than the ratio of medians when the load changes mid-run).
 * Built static with musl-gcc by bench/run.
 * Usage: paired ROUNDS WARMUP -- A... [-- B...]   (without B: the median of A alone) */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static posix_spawn_file_actions_t quiet;

static double run(char **argv) {
    struct timespec t0, t1;
    pid_t pid;
    int status;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int err = posix_spawnp(&pid, argv[0], &quiet, NULL, argv, environ);
    if (err != 0) {
        fprintf(stderr, "paired: cannot run %s: %s\n", argv[0], strerror(err));
        exit(1);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("paired: waitpid");
        exit(1);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "paired: %s failed (wait status %d); a failing command is not timed\n",
                argv[0], status);
        exit(1);
    }
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: paired ROUNDS WARMUP -- A... [-- B...]\n");
        return 3;
    }
    int rounds = atoi(argv[1]), warmup = atoi(argv[2]);
    if (rounds < 1 || warmup < 0) return 3;
    char **a = argv + 4, **b = NULL;
    for (char **p = a; *p; p++)
        if (strcmp(*p, "--") == 0) {
            *p = NULL;
            b = p + 1;
            break;
        }
    if (!*a || (b && !*b)) return 3;
    posix_spawn_file_actions_init(&quiet);
    for (int fd = 0; fd < 3; fd++)
        posix_spawn_file_actions_addopen(&quiet, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY, 0);
    double *ta = calloc((size_t)rounds, sizeof *ta), *tb = calloc((size_t)rounds, sizeof *tb);
    double *tr = calloc((size_t)rounds, sizeof *tr);
    if (!ta || !tb || !tr) return 1;
    for (int i = -warmup; i < rounds; i++) {
        double x, y = 0;
        if (!b) {
            x = run(a);
        } else if (i % 2 == 0) {
            x = run(a);
            y = run(b);
        } else {
            y = run(b);
            x = run(a);
        }
        if (i >= 0) {
            ta[i] = x;
            tb[i] = y;
            tr[i] = b ? x / y : 0;
        }
    }
    if (b)
        printf("%.4f %.4f %.4f\n", median(ta, rounds), median(tb, rounds), median(tr, rounds));
    else
        printf("%.4f\n", median(ta, rounds));
    return 0;
}
