# probe exec PROGRAM vs the shell line it replaces (`sh -c 'PROGRAM'`, as HEALTHCHECK CMD
# runs it): both start a program and wait for it; probe adds its deadline, process group
# and bounded output. (`probe exec PROGRAM` without `--`: the row helper splits at `--`.)

bench_exec() {
    row "exec /bin/true (vs sh -c '/bin/true; :')" \
        "$PROBE" exec /bin/true -- sh -c '/bin/true; :'
    row "exec --expect-output (vs sh -c '... | grep')" \
        "$PROBE" exec --expect-output ok /bin/echo ok -- sh -c '/bin/echo ok | grep -q ok'
}
