#!/usr/bin/env python3
"""Pull every probe command line out of Dockerfiles, compose files, Kubernetes manifests, ECS
JSON and Markdown, so that tests can hand each one to probe for validation.

    probe_lines.py PATH...                        (files or directories)
    probe_lines.py --check PROBE ENV_FILE PATH...  run each line with PROBE_DRY_RUN=1


Prints one JSON object per line: {"where": "file:line", "args": [...]} for a probe command
line (args without the program), or {"where": ..., "error": "..."} for a file that does not
parse. Exits 1 if any file had an error.

With --check, each line is run as `PROBE ARGS...` with PROBE_DRY_RUN=1 and only the variables
of ENV_FILE (NAME=value lines) in the environment: probe's dry-run convention is to parse and
validate everything, print nothing and exit 0, or exit 3 with the error. Prints `ok`/`FAIL`
lines; exits 1 on any failure.

What counts as a probe command line:
- an exec-form array whose program is probe (`/probe`, `/usr/local/bin/probe`, `probe`),
  alone or after "CMD" (compose `test:`, ECS `healthCheck.command`);
- a Dockerfile ENTRYPOINT of probe, completed by the stage's CMD;
- compose `entrypoint` + `command`, Kubernetes `command` + `args`, and a container whose
  image is probe's own with only `args` / `command`;
- in comments and Markdown, the text after a probe path followed by one of probe's commands
  (e.g. `docker compose exec app /probe check ...`), split like a shell would.

In compose files `$$` is compose's escape for `$`: it is undone, as compose would.
"""

import json
import os
import re
import shlex
import sys

import yaml

COMMANDS = ("http", "tcp", "check", "postgres", "redis", "mysql", "grpc", "amqp", "process", "file",
            "wait-for", "migrate-then-exec", "dns", "mongodb", "kafka", "serve")
PROBE_PATH = re.compile(r"^(?:/(?:usr/(?:local/)?)?(?:s?bin/)?)?probe$")
INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}

out = []
errors = 0


# A synopsis line (`probe process --pid N`, `probe redis [URL]`) documents a command's shape
# and cannot run: a word in brackets, an all-caps placeholder, a `:PORT`-style placeholder,
# or an ellipsis marks it.
PLACEHOLDER = re.compile(r"^\[(?![0-9a-fA-F:.]+\](?::\d+)?$)|\.\.\.|^[A-Z][A-Z0-9_]*(?::[A-Z][A-Z0-9_]*)?$|:[A-Z][A-Z_]*$|\|")
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def is_synopsis(args):
    return any(PLACEHOLDER.search(a) and a not in HTTP_METHODS for a in args)


LINE_OFFSET = 0  # line of a Markdown code block within its file, for YAML found inside it


def emit(where, args, node=None, env=None, shell=None):
    line = getattr(node, "line", None)
    if line is not None and ":" not in where:
        where = f"{where}:{line + LINE_OFFSET}"
    args = [str(a) for a in args]
    record = {"where": where, "args": args}
    if env:
        record["env"] = dict(env)
    if shell and "$" in shell:
        record["shell"] = shell  # a shell command line: $VAR is the shell's to expand
    if is_synopsis(args):
        record["synopsis"] = True
    out.append(record)


def error(where, message):
    global errors
    errors += 1
    out.append({"where": where, "error": message})


def is_probe(word):
    return isinstance(word, str) and bool(PROBE_PATH.match(word))


def probe_args(words):
    """The probe arguments of an exec-form list, or None if it does not run probe."""
    if not isinstance(words, list) or not words or not all(isinstance(w, (str, int, float)) for w in words):
        return None
    words = [str(w) for w in words]
    if words[0] == "CMD" and len(words) > 1:
        words = words[1:]
    if is_probe(words[0]):
        return words[1:]
    return None


# --- text: comments and Markdown -------------------------------------------------------

PROBE_AT_START = re.compile(r"^(?:/(?:usr/(?:local/)?)?(?:s?bin/)?)?probe\s+(?:" + "|".join(map(re.escape, COMMANDS)) + r")\b")
ABSOLUTE_PROBE = re.compile(r"(?:^|\s)/(?:usr/(?:local/)?)?(?:s?bin/)?probe\s+(?:" + "|".join(map(re.escape, COMMANDS)) + r")\b.*$")
ARRAY_IN_TEXT = re.compile(r"\[[^\[\]]*\"(?:/[\w/]*)?probe\"[^\[\]]*\]")
CODE_SPAN = re.compile(r"`([^`]+)`")


def scan_text(where, text, code=False):
    """Probe lines in free text (a comment line, a Markdown line). Prose that merely names
    probe's commands ("probe http checks ...") is not a command line: only exec-form arrays,
    an absolute probe path followed by a command (`docker compose exec app /probe check ...`),
    and `probe COMMAND ...` at the start of an inline code span or of a line of code count."""
    found = False
    for m in ARRAY_IN_TEXT.finditer(text):
        try:
            args = probe_args(json.loads(m.group(0)))
        except ValueError:
            continue
        if args:  # `ENTRYPOINT ["/probe"]` alone is the image's entrypoint, not a command line
            emit(where, args)
            found = True
        elif args is not None:
            found = True
    if found:
        return
    candidates = [span.strip() for span in CODE_SPAN.findall(text)]
    if code:
        candidates.append(text.strip())
    candidates = [c for c in candidates if PROBE_AT_START.match(c)]
    if not candidates:
        m = ABSOLUTE_PROBE.search(CODE_SPAN.sub("", text))
        if m:
            candidates.append(m.group(0).strip())
    for candidate in candidates:
        words = split_command(where, candidate)
        # `probe process` alone in prose names a command; a command line has arguments
        if words and is_probe(words[0]) and len(words) > 2:
            emit(where, words[1:], shell=candidate)


SHELL_VAR = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


def shell_expand(text, env):
    """$NAME, ${NAME} and ${NAME:-default} outside single quotes, as a shell would expand
    them before probe sees the words; unset names without a default stay as written."""
    out, i, single = [], 0, False
    double = False
    while i < len(text):
        c = text[i]
        if c == "'" and not double:
            single = not single
        elif c == '"' and not single:
            double = not double
        elif c == "\\" and not single and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
            continue
        elif c == "$" and not single:
            m = SHELL_VAR.match(text, i)
            if m:
                name = m.group(1) or m.group(2)
                value = env.get(name, m.group(3))
                if value is not None:
                    out.append(value if double else shlex.quote(value))
                    i = m.end()
                    continue
        out.append(c)
        i += 1
    return "".join(out)


def split_command(where, text):
    """Words of a shell-like command line, up to the first ; | && > or comment."""
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";|&<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = []
        for w in lexer:
            if set(w) <= set(";|&<>"):
                break
            words.append(w)
        return words
    except ValueError as e:
        error(where, f"cannot split {text!r}: {e}")
        return None


# --- Dockerfiles ---------------------------------------------------------------------

def dockerfile(path, text=None, offset=0):
    """A Dockerfile, or a ```dockerfile block of a Markdown file starting after line offset."""
    if text is None:
        text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    instructions = []  # (line number, text)
    buf, start = "", None
    for n, line in enumerate(lines, offset + 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            if buf:
                continue  # comment inside a continued instruction
            scan_text(f"{path}:{n}", stripped.lstrip("#").strip().removeprefix("$ "))
            continue
        if not stripped and not buf:
            continue
        if start is None:
            start = n
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        instructions.append((start, buf))
        buf, start = "", None
    if buf:
        instructions.append((start, buf))

    entrypoint = None  # (where, args, env) of the current stage's probe ENTRYPOINT
    cmd = None
    env = {}  # the stage's ENV: what probe sees (PROBE_WAIT_TARGETS, PORT, ...)
    for n, text in instructions:
        where = f"{path}:{n}"
        keyword, _, rest = text.partition(" ")
        keyword = keyword.upper()
        if keyword not in INSTRUCTIONS:
            error(where, f"unknown instruction {keyword}")
            continue
        if keyword == "FROM":
            flush_stage(entrypoint, cmd)
            entrypoint, cmd, env = None, None, {}
            continue
        if keyword == "ENV":
            env.update(parse_env(where, rest))
            continue
        if keyword == "HEALTHCHECK":
            m = re.search(r"(?:^|\s)CMD\s+(.*)$", rest)
            if not m:
                if rest.strip() != "NONE":
                    error(where, "HEALTHCHECK without CMD")
                continue
            rest, keyword = m.group(1), "HEALTHCHECK CMD"
        if keyword not in ("CMD", "ENTRYPOINT", "RUN", "HEALTHCHECK CMD"):
            continue
        rest = rest.strip()
        if keyword in ("HEALTHCHECK CMD", "ENTRYPOINT") and not rest.startswith("[") and re.match(r"^\S*probe\s", rest):
            error(where, f"{keyword} runs probe in shell form: use the exec form [\"/probe\", ...] (no shell in scratch or distroless images)")
            continue
        if rest.startswith("["):
            try:
                words = json.loads(rest)
            except ValueError as e:
                error(where, f"{keyword}: exec form is not a JSON array ({e}): {rest}")
                continue
        else:
            try:
                words = shlex.split(rest)
            except ValueError as e:
                error(where, f"{keyword}: {e}")
                continue
        if keyword == "ENTRYPOINT":
            args = probe_args(words)
            entrypoint = (where, args, dict(env)) if args is not None else None
        elif keyword == "CMD":
            cmd = words
            if probe_args(words) is not None:
                emit(where, probe_args(words), env=env)
        else:
            args = probe_args(words)
            if args is not None:
                emit(where, args, env=env)
    flush_stage(entrypoint, cmd)


def flush_stage(entrypoint, cmd):
    if entrypoint is None:
        return
    where, args, env = entrypoint
    if cmd and probe_args(cmd) is None:
        args = args + [str(w) for w in cmd]
    if args:  # a bare ENTRYPOINT ["/probe"] is the probe image's own, not a command line
        emit(where, args, env=env)


def parse_env(where, rest):
    """ENV K=V K2="v 2" (or the old ENV K value form)."""
    try:
        words = shlex.split(rest)
    except ValueError as e:
        error(where, f"ENV: {e}")
        return {}
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(w.split("=", 1) for w in words if "=" in w)


# --- YAML and JSON -------------------------------------------------------------------

def walk(where, node, compose):
    unescape = (lambda s: s.replace("$$", "$")) if compose else (lambda s: s)

    def fix(words):
        return [unescape(w) for w in words]

    if isinstance(node, dict):
        used = set()
        # compose: entrypoint + command; Kubernetes: command + args; ECS: entryPoint + command
        for first, second in (("entrypoint", "command"), ("entryPoint", "command"), ("command", "args")):
            if first in node and first not in used:
                args = probe_args(node[first])
                if args is not None:
                    extra = node.get(second) if isinstance(node.get(second), list) else []
                    emit(where, fix(args + [str(w) for w in extra]), node[first])
                    used.update((first, second))
        # a container running probe's own image (its ENTRYPOINT is /probe)
        image = node.get("image")
        if isinstance(image, str) and re.search(r"(^|/)probe(:|@|$)", image):
            for key in ("args", "command"):
                if key in node and key not in used and isinstance(node[key], list):
                    emit(where, fix([str(w) for w in node[key]]), node[key])
                    used.add(key)
                    break
        for key, value in node.items():
            if key in used:
                continue
            if isinstance(value, list) and probe_args(value) is not None:
                emit(where, fix(probe_args(value)), value)
            elif isinstance(value, str) and key in ("test", "command") and re.match(r"^\s*/?\S*probe\s", value):
                words = shlex.split(value)
                if is_probe(words[0]):
                    emit(where, fix(words[1:]))
            else:
                walk(where, value, compose)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, list) and probe_args(item) is not None:
                emit(where, fix(probe_args(item)), item)
            else:
                walk(where, item, compose)


class LineList(list):
    """A YAML sequence that knows its line."""
    line = None


class LineLoader(yaml.SafeLoader):
    pass


def _sequence(loader, node):
    seq = LineList(loader.construct_sequence(node, deep=True))
    seq.line = node.start_mark.line + 1
    return seq


LineLoader.add_constructor("tag:yaml.org,2002:seq", _sequence)


def yaml_file(path, text=None, offset=0):
    """A YAML file, or a ```yaml block of a Markdown file (a fragment that does not parse is
    scanned as text instead)."""
    global LINE_OFFSET
    fragment = text is not None
    if text is None:
        text = open(path, encoding="utf-8").read()
    try:
        docs = [d for d in yaml.load_all(text, Loader=LineLoader) if d is not None]
    except yaml.YAMLError as e:
        if fragment:
            for n, line in enumerate(text.split("\n"), offset + 1):
                scan_text(f"{path}:{n}", line.strip(), code=True)
            return
        error(path, f"YAML does not parse: {e}")
        return
    if fragment:
        compose = bool(re.search(r"^\s*(services|healthcheck|depends_on|test):", text, re.M))
    else:
        compose = "compose" in os.path.basename(path)
    LINE_OFFSET = offset
    for i, doc in enumerate(docs):
        if not compose and isinstance(doc, dict) and "apiVersion" in doc and "kind" not in doc:
            error(f"{path} (document {i + 1})", "Kubernetes document without kind")
        walk(path, doc, compose)
    LINE_OFFSET = 0
    comments(path, text, offset)


def json_file(path):
    try:
        doc = json.load(open(path, encoding="utf-8"))
    except ValueError as e:
        error(path, f"JSON does not parse: {e}")
        return
    walk(path, doc, False)


def comments(path, text, offset=0):
    for n, line in enumerate(text.split("\n"), offset + 1):
        if "#" in line:
            scan_text(f"{path}:{n}", line.split("#", 1)[1].strip().removeprefix("$ "))


def markdown(path):
    """Prose lines, and fenced blocks read by their language: dockerfile blocks as a
    Dockerfile (ENTRYPOINT + CMD, ENV), yaml blocks as YAML (compose's $$ where it looks like
    compose), other blocks line by line as shell-like code."""
    lines = open(path, encoding="utf-8").read().split("\n")
    n = 0
    while n < len(lines):
        line = lines[n]
        fence = re.match(r"^\s*```\s*(\w*)", line)
        if not fence:
            scan_text(f"{path}:{n + 1}", line.strip().removeprefix("$ "))
            n += 1
            continue
        lang, start = fence.group(1).lower(), n + 1
        n += 1
        while n < len(lines) and not re.match(r"^\s*```\s*$", lines[n]):
            n += 1
        block = "\n".join(lines[start:n])
        n += 1
        if lang == "dockerfile":
            dockerfile(path, block, start)
        elif lang in ("yaml", "yml"):
            yaml_file(path, block, start)
        else:
            for i, code in enumerate(block.split("\n"), start + 1):
                scan_text(f"{path}:{i}", code.strip().removeprefix("$ "), code=True)


def python(path):
    comments(path, open(path, encoding="utf-8").read())


def visit(path):
    name = os.path.basename(path)
    if name.startswith("Dockerfile") or name.endswith(".Dockerfile") or name.endswith(".dockerfile"):
        dockerfile(path)
    elif name.endswith((".yml", ".yaml")):
        yaml_file(path)
    elif name.endswith(".json"):
        json_file(path)
    elif name.endswith(".md"):
        markdown(path)
    elif name.endswith((".py", ".sh", ".toml", ".env")):
        python(path)


def standin_pems():
    """A throwaway self-signed certificate and key (openssl), standing in for the PEM files
    that a line names but that exist only where it runs; None without openssl."""
    import subprocess
    import tempfile

    d = tempfile.mkdtemp(prefix="probe-pem-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-subj", "/CN=example.test", "-days", "1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"cert": cert, "key": key}


def check(probe, env_file):
    """Hands every extracted line to probe in dry-run mode; prints ok/FAIL lines."""
    import subprocess

    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "PROBE_DRY_RUN": "1"}
    for line in open(env_file, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value

    def run(args, extra_env=None):
        try:
            r = subprocess.run([probe, *args], env={**env, **(extra_env or {})}, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            return None, "did not finish within 10s"
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace").strip()

    failed = 0
    for r in out:
        if r.get("synopsis"):
            print(f"skip {r['where']}: synopsis, not a command line: {shlex.join(['probe', *r['args']])}")
    records = [r for r in out if "args" in r and not r.get("synopsis")]
    for r in out:
        if "error" in r:
            print(f"FAIL {r['where']}: {r['error']}")
            failed += 1
    # Without dry-run support, a line such as `wait-for ... --timeout 5m` would really wait:
    # find out first, with a check that would fail if it ran.
    code, text = run(["tcp", "127.0.0.1:1"])
    if code != 0 or text:
        print(f"FAIL probe does not implement PROBE_DRY_RUN=1 yet (a dry run of `probe tcp 127.0.0.1:1` "
              f"gave exit {code}: {text.splitlines()[0] if text else ''}): {len(records)} probe lines not validated")
        return 1
    code, text = run(["tcp", "not a target"])
    if code != 3:
        print(f"FAIL PROBE_DRY_RUN=1 accepts `probe tcp 'not a target'` (exit {code}, want 3): it validates nothing")
        failed += 1
    # Files that exist only where the line runs (Docker secrets): a stand-in with a value,
    # since the dry run reads them like a real run would.
    import tempfile

    standin = tempfile.NamedTemporaryFile("w", prefix="probe-secret-", delete=False)
    standin.write("example-password\n")
    standin.close()
    pem = standin_pems()

    def stand_in(words, nested=True):
        words = list(words)
        for i, a in enumerate(words):
            if nested and " " in a:  # a quoted target command line: 'redis ... --password-file F'
                try:
                    inner = shlex.split(a)
                    replaced = stand_in(inner, nested=False)
                    if replaced != inner:
                        words[i] = shlex.join(replaced)
                except ValueError:
                    pass
            if i == 0 or os.path.exists(a):
                continue
            flag = words[i - 1]
            if flag == "--password-file":
                words[i] = standin.name
            elif flag in ("--ca-file", "--cert") and pem:
                words[i] = pem["cert"]
            elif flag == "--key" and pem:
                words[i] = pem["key"]
        return words

    for r in records:
        args = r["args"]
        if "shell" in r:
            words = split_command(r["where"], shell_expand(r["shell"], {**env, **r.get("env", {})}))
            args = words[1:] if words else args
        code, text = run(stand_in(args), r.get("env"))
        shown = shlex.join(["probe", *r["args"]])
        if code == 0 and not text:
            print(f"ok   {r['where']}: {shown}")
        else:
            print(f"FAIL {r['where']}: {shown}: exit {code}: {text}")
            failed += 1
    os.unlink(standin.name)
    return 1 if failed else 0


def main(paths):
    mode_check = None
    if paths[:1] == ["--check"]:
        mode_check, env_file, paths = paths[1], paths[2], paths[3:]
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    visit(os.path.join(root, f))
        else:
            visit(p)
    seen, unique = set(), []
    for record in out:
        key = json.dumps(record, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    out[:] = unique
    if mode_check:
        return check(mode_check, env_file)
    for record in out:
        print(json.dumps(record, sort_keys=True))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
