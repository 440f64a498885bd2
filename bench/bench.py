#!/usr/bin/env python3
"""The webhook benchmark: the real server over HTTP (wrk), against raw SQL (pgbench), in one run.

Run it through `bench/run.sh` (or `just bench`), which builds the release binary first.

For each round (3 by default; medians are reported) and each scenario (spread over 10,000
INNs, one hot INN, 10 % replays, balance reads) at 1, 8, 32 and 64 connections, it
- generates signed requests with fresh operation_ids (bench/gen_requests.py), right before the
  run, inside the 300 s signature window;
- drives the server with wrk (bench/wrk.lua) and records req/s, p50, p99, errors, the server's
  peak RSS (VmHWM, reset before each run) and its CPU time per request (utime+stime from
  /proc/<pid>/stat), and PostgreSQL's CPU per request (its processes, same way);
- runs, interleaved, pgbench on the same database with the same number of clients: the
  one-statement-per-webhook reference (bench/sql/reference.sql); at 32 connections also the
  adapter's own statements (adapter.sql) and the batched ceiling (batched.sql, 32 webhooks per
  statement, 2 clients).
Then `payments ledger verify` must pass, and every HTTP answer must have been 2xx; otherwise the
exit status is 1. Last, the SQLite server, spread and hot at 8 connections.

PostgreSQL: a throwaway cluster at default settings (initdb under a temp dir, free port), unless
--pg-url points at a server where the user may create databases. --profile loads
pg_stat_statements in the throwaway cluster and writes its top statements per scenario.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECRET = "bench-secret"
PG_BIN = "/usr/lib/postgresql/15/bin"
SPREAD = {"base": 1_000_000_000, "ninns": 10_000}
HOT = {"base": 1_000_099_999, "ninns": 1}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, env=None, check=True, capture=True):
    result = subprocess.run(cmd, env=env, text=True, capture_output=capture)
    if check and result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    return result


class Cluster:
    """A throwaway PostgreSQL cluster at default settings."""

    def __init__(self, profile):
        self.dir = tempfile.mkdtemp(prefix="payments-bench-pg-")
        # PostgreSQL refuses to run as root: run it as the postgres user then.
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        run(self.as_user + [f"{PG_BIN}/initdb", "-D", self.dir, "-U", "postgres", "-A", "trust"])
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        if profile:
            options += (" -c shared_preload_libraries=pg_stat_statements"
                        " -c pg_stat_statements.track_planning=on")
        run(self.as_user + [f"{PG_BIN}/pg_ctl", "-D", self.dir, "-o", options, "-l",
                            os.path.join(self.dir, "log"), "-w", "start"])
        self.url = f"postgres://postgres@127.0.0.1:{self.port}"

    def stop(self):
        run(self.as_user + [f"{PG_BIN}/pg_ctl", "-D", self.dir, "-m", "fast", "stop"],
            check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def postmaster_pid(url):
    # The checkpointer lives as long as the server; its parent is the postmaster.
    out = run(["psql", url, "-Atc",
               "select pid from pg_stat_activity where backend_type = 'checkpointer'"],
              check=False).stdout.strip()
    if not out:
        return None
    with open(f"/proc/{out}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def cpu_ticks(pids, reaped_children_of=None):
    """utime + stime of the live `pids`, plus what the children that `reaped_children_of`
    has reaped used (cutime + cstime): without it, a backend that exits during a run (a
    closed connection, an autovacuum worker) takes its CPU time with it and the delta can
    go negative."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            if pid == reaped_children_of:
                total += int(fields[13]) + int(fields[14])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total


def children(pid):
    if pid is None:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return found


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class Server:
    def __init__(self, binary, database_url, env_extra):
        self.port = free_port()
        self.database_url = database_url
        self.env = dict(os.environ, DATABASE_URL=database_url, PAYMENTS_WEBHOOK_SECRETS=SECRET,
                        PAYMENTS_LISTEN=f"127.0.0.1:{self.port}",
                        PAYMENTS_RATE_LIMIT_PER_MINUTE="0", **env_extra)
        self.binary = binary
        self.log = tempfile.NamedTemporaryFile(prefix="payments-bench-server-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen([binary, "serve"], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise SystemExit(f"server did not start; log: {self.log.name}")

    def cli(self, *args):
        return run([self.binary, *args], env=self.env).stdout.strip()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wrk(server, scenario, connections, duration, expected_rate, token, workdir, db_cpu_ticks):
    """One wrk run; returns its figures."""
    requests_file = os.path.join(workdir, f"{scenario}.txt")
    count = max(2000, int(expected_rate * duration * 1.5))
    run([sys.executable, os.path.join(HERE, "gen_requests.py"), "--out", requests_file,
         "--count", str(count), "--scenario", scenario, "--secret", SECRET])
    threads = min(connections, 2)
    out = os.path.join(workdir, "wrk.json")
    mode = "get" if scenario == "balance" else "post"
    reset_peak_rss(server.proc.pid)
    cpu_before = cpu_ticks([server.proc.pid])
    db_before = db_cpu_ticks()
    env = dict(os.environ, WRK_OUT=out)
    not_2xx_before = answers_not_2xx(server)
    load_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    idle_before = machine_idle()
    run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
         "-s", os.path.join(HERE, "wrk.lua"), f"http://127.0.0.1:{server.port}",
         "--", requests_file, str(threads), mode, token or ""], env=env)
    cpu = cpu_ticks([server.proc.pid]) - cpu_before
    db_cpu = db_cpu_ticks() - db_before
    idle = machine_idle() - idle_before
    load_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    not_2xx = answers_not_2xx(server) - not_2xx_before
    load_cpu = (load_after.ru_utime + load_after.ru_stime
                - load_before.ru_utime - load_before.ru_stime)
    with open(out) as f:
        result = json.load(f)
    os.remove(requests_file)
    seconds = result["duration_us"] / 1e6
    n = max(result["requests"], 1)
    # The server's count of answers other than 2xx, or wrk's count of 4xx/5xx if larger.
    result["non2xx"] = max(not_2xx, result["status"])
    errors = (result["non2xx"] + result["connect"] + result["read"] + result["write"]
              + result["timeout"])
    return {
        "rps": result["requests"] / seconds,
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "errors": errors,
        # Which kind, so a failure can be told apart (wrk's timeout is 2 s).
        "error_kinds": {kind: result[kind] for kind in
                        ("non2xx", "connect", "read", "write", "timeout") if result[kind]},
        "wrapped": result["wrapped"],
        "rss_mb": peak_rss_mb(server.proc.pid),
        "cpu_ms": cpu / CLK_TCK * 1000 / n,
        "db_cpu_ms": db_cpu / CLK_TCK * 1000 / n,
        # wrk's own CPU: on one machine the load generator competes for the same cores.
        "wrk_cpu_ms": load_cpu * 1000 / n,
        # Share of the machine's CPU time left idle during the run: near 0 means CPU-bound.
        "idle_pct": 100 * idle / (seconds * CLK_TCK * os.cpu_count()),
    }


def answers_not_2xx(server):
    """Answers other than 2xx the server has sent so far, from its `http_requests_total`.

    wrk's Lua `response()` hook could count them, but it hands every response to Lua, about
    15 % of wrk's CPU per request, on the cores the server shares."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as r:
        text = r.read().decode()
    total = 0
    for line in text.splitlines():
        match = re.match(r'http_requests_total\{.*status="(\d+)".*\} (\d+)', line)
        if match and not match.group(1).startswith("2"):
            total += int(match.group(2))
    return total


def machine_idle():
    """Idle CPU ticks of the whole machine so far (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[4]) + int(fields[5])  # idle + iowait


def pgbench(url, script, clients, duration, variables, per_transaction=1):
    """Webhooks per second of one pgbench run."""
    cmd = [f"{PG_BIN}/pgbench", "-n", "-M", "prepared", "-c", str(clients),
           "-j", str(min(clients, 2)), "-T", str(duration), "-f", os.path.join(HERE, "sql", script)]
    for name, value in variables.items():
        cmd += ["-D", f"{name}={value}"]
    out = run(cmd + [url]).stdout
    for line in out.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2]) * per_transaction
    raise SystemExit(f"pgbench printed no tps:\n{out}")


def median(values):
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/payments"))
    parser.add_argument("--quick", action="store_true",
                        help="1 round, short runs: to check the harness, not for figures")
    parser.add_argument("--pg-url", help="an existing server instead of a throwaway cluster")
    parser.add_argument("--profile", action="store_true",
                        help="pg_stat_statements in the throwaway cluster, top statements saved")
    parser.add_argument("--connections", default="1,8,32,64")
    parser.add_argument("--scenarios", default="spread,hot,replay,balance")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--out", default=os.path.join(ROOT, "target/bench"))
    parser.add_argument("--env", action="append", default=[],
                        help="NAME=value for the server, e.g. PAYMENTS_BATCH_MAX_ITEMS=0")
    args = parser.parse_args()

    rounds, duration, pg_duration = (1, 3, 3) if args.quick else (3, 10, 10)
    connections = [int(c) for c in args.connections.split(",")]
    scenarios = args.scenarios.split(",")
    env_extra = dict(item.split("=", 1) for item in args.env)
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="payments-bench-")
    cluster = None if args.pg_url else Cluster(args.profile)
    base_url = args.pg_url or cluster.url
    dbname = f"payments_bench_{os.getpid()}"
    run(["psql", f"{base_url}/postgres", "-Atc", f"CREATE DATABASE {dbname}"])
    pg_url = f"{base_url}/{dbname}"
    failures = []
    results = {}  # (backend, scenario, connections) -> list of dicts
    references = {}  # (script, scenario, clients) -> list of webhooks/s
    server = None
    try:
        server = Server(args.binary, pg_url, env_extra)
        if args.profile:
            run(["psql", pg_url, "-Atc", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"])
        token = server.cli("token", "create", "--role", "staff")
        # Balance reads need the organizations; seed the 10,000 INNs at zero balance.
        run(["psql", pg_url, "-Atc",
             "INSERT INTO organizations (id, inn, name) SELECT gen_random_uuid(), "
             f"({SPREAD['base']} + g)::text, 'INN ' || ({SPREAD['base']} + g) "
             f"FROM generate_series(0, {SPREAD['ninns'] - 1}) g ON CONFLICT DO NOTHING"])
        postmaster = postmaster_pid(pg_url)

        def db_cpu_ticks():
            if postmaster is None:
                return 0
            return cpu_ticks([postmaster] + children(postmaster), reaped_children_of=postmaster)

        log(f"warm-up ({duration} s, spread, 8 connections)")
        wrk(server, "spread", 8, duration, 5000, token, workdir, db_cpu_ticks)
        for round_number in range(1, rounds + 1):
            for scenario in scenarios:
                for conns in connections:
                    if args.profile:
                        run(["psql", pg_url, "-Atc", "SELECT pg_stat_statements_reset()"])
                    figures = wrk(server, scenario, conns, duration,
                                  20000 if scenario == "balance" else 8000, token, workdir,
                                  db_cpu_ticks)
                    results.setdefault(("postgres", scenario, conns), []).append(figures)
                    log(f"round {round_number} postgres {scenario:7} c={conns:<3} "
                        f"{figures['rps']:8.0f} req/s p50 {figures['p50_ms']:.2f} ms "
                        f"p99 {figures['p99_ms']:.2f} ms errors {figures['errors']} "
                        f"cpu ms/req: service {figures['cpu_ms']:.3f} db {figures['db_cpu_ms']:.3f} "
                        f"wrk {figures['wrk_cpu_ms']:.3f}; idle {figures['idle_pct']:.0f}% "
                        f"rss {figures['rss_mb']:.1f} MB")
                    if figures["errors"]:
                        failures.append(f"{scenario} c={conns}: {figures['errors']} errors "
                                        f"{figures['error_kinds']}")
                    if args.profile:
                        top = run(["psql", pg_url, "-Atc",
                                   "SELECT calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3), "
                                   "plans, round(total_plan_time::numeric, 1), rows, "
                                   "left(regexp_replace(query, '\\s+', ' ', 'g'), 160) "
                                   "FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC "
                                   "LIMIT 12"]).stdout
                        with open(os.path.join(args.out, f"pgss-{scenario}-{conns}.txt"),
                                  "w") as f:
                            f.write(top)
                    # Interleaved raw-SQL reference, same clients, same INNs.
                    if scenario in ("spread", "hot", "replay"):
                        shape = HOT if scenario == "hot" else SPREAD
                        ref_scenario = "hot" if scenario == "hot" else "spread"
                        if scenario != "replay":
                            references.setdefault(("reference", ref_scenario, conns), []).append(
                                pgbench(pg_url, "reference.sql", conns, pg_duration, shape))
                        if conns == 32 and scenario != "replay":
                            references.setdefault(("adapter", ref_scenario, conns), []).append(
                                pgbench(pg_url, "adapter.sql", conns, pg_duration, shape))
                            references.setdefault(("batched", ref_scenario, conns), []).append(
                                pgbench(pg_url, "batched.sql", 2, pg_duration,
                                        dict(shape, batch=32), per_transaction=32))
                    elif scenario == "balance":
                        references.setdefault(("reference", "balance", conns), []).append(
                            pgbench(pg_url, "balance.sql", conns, pg_duration, SPREAD))
        verify = run([args.binary, "ledger", "verify"], env=server.env, check=False)
        if verify.returncode != 0:
            failures.append(f"postgres ledger verify failed:\n{verify.stdout}{verify.stderr}")
        server.stop()
        server = None

        if not args.no_sqlite:
            sqlite_path = os.path.join(workdir, "bench.sqlite3")
            server = Server(args.binary, sqlite_path, env_extra)
            wrk(server, "spread", 8, duration, 3000, None, workdir, lambda: 0)
            for _ in range(rounds):
                for scenario in ("spread", "hot"):
                    figures = wrk(server, scenario, 8, duration, 6000, None, workdir,
                                  lambda: 0)
                    results.setdefault(("sqlite", scenario, 8), []).append(figures)
                    log(f"sqlite {scenario:7} c=8   {figures['rps']:8.0f} req/s "
                        f"p50 {figures['p50_ms']:.2f} ms p99 {figures['p99_ms']:.2f} ms "
                        f"errors {figures['errors']} cpu {figures['cpu_ms']:.3f} ms/req")
                    if figures["errors"]:
                        failures.append(f"sqlite {scenario}: {figures['errors']} errors")
            verify = run([args.binary, "ledger", "verify"], env=server.env, check=False)
            if verify.returncode != 0:
                failures.append(f"sqlite ledger verify failed:\n{verify.stdout}{verify.stderr}")
            server.stop()
            server = None
    finally:
        if server is not None:
            server.stop()
        if cluster is not None:
            cluster.stop()
        else:
            run(["psql", f"{base_url}/postgres", "-Atc", f"DROP DATABASE IF EXISTS {dbname}"],
                check=False)
        shutil.rmtree(workdir, ignore_errors=True)

    report = render(results, references, rounds, duration, env_extra, args.quick)
    print(report)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(report)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"results": {"|".join(map(str, k)): v for k, v in results.items()},
                   "references": {"|".join(map(str, k)): v for k, v in references.items()}},
                  f, indent=1)
    if failures:
        print("FAILED:\n" + "\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print("ledger verified; every answer 2xx", file=sys.stderr)


def render(results, references, rounds, duration, env_extra, quick):
    def ref(script, scenario, conns):
        return median(references.get((script, scenario, conns), []))

    lines = [
        f"Medians of {rounds} round(s) of {duration} s; server settings: "
        f"{env_extra or 'defaults'}{'; QUICK MODE (smoke test, not figures)' if quick else ''}.",
        "",
        "| backend | scenario | conns | ratio to raw SQL | req/s | raw SQL/s | p50 ms | p99 ms "
        "| errors | peak RSS MB | service CPU ms/req | PostgreSQL CPU ms/req | wrk CPU ms/req "
        "| machine idle % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (backend, scenario, conns), runs in sorted(results.items()):
        rps = median([r["rps"] for r in runs])
        # SQLite runs in the server's process: no raw-SQL reference, no database process.
        ratio = reference = db_cpu = ""
        if backend == "postgres":
            ref_scenario = {"replay": "spread"}.get(scenario, scenario)
            raw = ref("reference", ref_scenario, conns)
            ratio = f"{rps / raw:.2f} ×" if raw == raw and raw else ""
            reference = f"{raw:,.0f}"
            db_cpu = f"{median([r['db_cpu_ms'] for r in runs]):.3f}"
        lines.append(
            f"| {backend} | {scenario} | {conns} | {ratio} | {rps:,.0f} | "
            f"{reference} | {median([r['p50_ms'] for r in runs]):.2f} | "
            f"{median([r['p99_ms'] for r in runs]):.2f} | {sum(r['errors'] for r in runs)} | "
            f"{max(r['rss_mb'] for r in runs):.1f} | {median([r['cpu_ms'] for r in runs]):.3f} | "
            f"{db_cpu} | {median([r['wrk_cpu_ms'] for r in runs]):.3f} | "
            f"{median([r['idle_pct'] for r in runs]):.0f} |")
    lines += ["", "Raw SQL at 32 connections (pgbench, webhooks/s):", "",
              "| scenario | adapter's statements | reference (1 statement/webhook) "
              "| batched (32/statement, 2 clients) | service ÷ batched |",
              "|---|---|---|---|---|"]
    for scenario in ("spread", "hot"):
        service = median([r["rps"] for r in results.get(("postgres", scenario, 32), [])])
        batched = ref("batched", scenario, 32)
        lines.append(f"| {scenario} | {ref('adapter', scenario, 32):,.0f} | "
                     f"{ref('reference', scenario, 32):,.0f} | {batched:,.0f} | "
                     f"{service / batched if batched == batched and batched else float('nan'):.2f} × |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
