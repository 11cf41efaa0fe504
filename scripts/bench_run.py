#!/usr/bin/env python3
"""Measurement helpers for scripts/bench: fixtures, URL lists, the clients under test
(Python requests, aiohttp, Trawl over its admin API, wrk) and the Markdown report.

Each measuring subcommand prints one JSON object on stdout; scripts/bench tags it with
the workload and run number and appends it to results.jsonl. `report` turns that file
into the tables of docs/benchmarks.md (medians over runs).

    bench_run.py fixtures DIR
    bench_run.py urls BASE_URL N FILE
    bench_run.py requests URLFILE N
    bench_run.py aiohttp URLFILE N CONNECTIONS
    bench_run.py trawl BIN URLFILE N WORKDIR JOB_TIMEOUT_S [KEY=VALUE ...]   (env for trawl)
    bench_run.py wrk URL THREADS CONNECTIONS SECONDS
    bench_run.py report RESULTS.jsonl
"""
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def emit(obj):
    print(json.dumps(obj), flush=True)


# ---------------------------------------------------------------- fixtures, URLs

def cmd_fixtures(root):
    www = os.path.join(root, "www")
    os.makedirs(www, exist_ok=True)
    # W1: a 1 KiB JSON document (exactly 1024 bytes with its newline).
    items = [{"id": i, "name": f"item-{i}", "price": i * 1.25, "tags": ["a", "b"]} for i in range(12)]
    empty = json.dumps({"ok": True, "items": items, "pad": ""}, separators=(",", ":"))
    doc = json.dumps({"ok": True, "items": items, "pad": "x" * (1023 - len(empty))},
                     separators=(",", ":"))
    with open(os.path.join(www, "w1.json"), "w") as f:
        f.write(doc + "\n")
    # W3: a ~30 KiB HTML page with 200 links (relative and absolute) and some prose.
    parts = ["<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<title>Trawl benchmark page</title>",
             "<meta name=\"description\" content=\"A 30 KiB page with 200 links\">",
             "<link rel=\"canonical\" href=\"/w3.html\"></head><body><h1>Links</h1><ul>"]
    for i in range(200):
        href = f"/page/{i}?ref=bench" if i % 2 else f"http://127.0.0.1/abs/{i}"
        parts.append(f"<li class=\"item\"><a href=\"{href}\">Link number {i}</a> "
                     f"<span>lorem ipsum dolor sit amet {i}</span></li>\n")
    parts.append("</ul>")
    html = "".join(parts)
    filler = "<p>" + ("Consectetur adipiscing elit, sed do eiusmod tempor. " * 20) + "</p>\n"
    while len(html) < 30 * 1024 - len(filler) - 20:
        html += filler
    html += "</body></html>\n"
    with open(os.path.join(www, "w3.html"), "w") as f:
        f.write(html)
    emit({"w1_bytes": len(doc) + 1, "w3_bytes": len(html), "w3_links": 200})


def cmd_urls(base, n, path):
    sep = "&" if "?" in base else "?"
    with open(path, "w") as f:
        f.write("".join(f"{base}{sep}n={i}\n" for i in range(int(n))))


def read_urls(path, n):
    with open(path) as f:
        urls = f.read().split()
    return urls[: int(n)]


def own_usage():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0  # s, MiB


# ---------------------------------------------------------------- Python clients

def cmd_requests(urlfile, n):
    import requests
    urls = read_urls(urlfile, n)
    cpu0, _ = own_usage()
    ok = 0
    t0 = time.perf_counter()
    with requests.Session() as s:
        for u in urls:
            r = s.get(u, timeout=30)
            _ = r.content
            ok += r.status_code == 200
    wall = time.perf_counter() - t0
    cpu1, rss = own_usage()
    emit(result("requests", len(urls), wall, cpu1 - cpu0, rss, ok, len(urls)))


def cmd_aiohttp(urlfile, n, conns):
    import asyncio
    import aiohttp
    urls = read_urls(urlfile, n)

    async def main():
        timeout = aiohttp.ClientTimeout(total=120)
        conn = aiohttp.TCPConnector(limit=int(conns), limit_per_host=0)
        async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:
            async def one(u):
                async with s.get(u) as r:
                    await r.read()
                    return r.status
            return await asyncio.gather(*(one(u) for u in urls), return_exceptions=True)

    cpu0, _ = own_usage()
    t0 = time.perf_counter()
    statuses = asyncio.run(main())
    wall = time.perf_counter() - t0
    cpu1, rss = own_usage()
    ok = sum(1 for s in statuses if s == 200)
    emit(result("aiohttp", len(urls), wall, cpu1 - cpu0, rss, ok, len(urls)))


def cmd_awc(binary, urlfile, threads, in_flight):
    """awc alone (crates/fetcher/examples/awc_floor.rs): Trawl's HTTP client with none
    of its pipeline, on the same thread and in-flight layout as the tuned config. The
    floor of what Trawl can do on this machine: whatever Trawl adds costs from here."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([binary, urlfile, str(threads), str(in_flight)], capture_output=True,
                         text=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        emit({"tool": "awc", "error": f"awc_floor exited {out.returncode}: {out.stderr[-300:]}"})
        return
    d = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    emit(result("awc", d["n"], d["wall_s"], cpu, after.ru_maxrss / 1024.0, d["ok"], d["n"],
                layout=f"{threads} threads x {in_flight} in flight"))


def result(tool, n, wall, cpu_s, rss_mib, ok, lines, **extra):
    out = {"tool": tool, "n": n, "wall_s": round(wall, 4),
           "urls_per_s": round(n / wall, 1) if wall > 0 else None,
           "cpu_ms_per_1000": round(cpu_s * 1000 / n * 1000, 1) if n else None,
           "peak_rss_mib": round(rss_mib, 1), "ok": ok, "records": lines}
    out.update(extra)
    return out


# ---------------------------------------------------------------- Trawl

def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_hwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def cmd_trawl(binary, urlfile, n, workdir, job_timeout, *env_kv):
    import requests
    n = int(n)
    job_timeout = float(job_timeout)
    # An outer `timeout` sends SIGTERM: unwind through `finally` so trawl is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(workdir, exist_ok=True)
    db = os.path.join(workdir, "trawl.db")
    env = dict(os.environ)
    env.update({"TRAWL__API__BIND": "127.0.0.1:0", "TRAWL__STORE__URL": f"sqlite://{db}",
                "TRAWL__FETCHER__ALLOW_PRIVATE_NETWORKS": "true"})
    env.update(dict(kv.split("=", 1) for kv in env_kv))
    out_path, err_path = os.path.join(workdir, "stdout.log"), os.path.join(workdir, "stderr.log")
    with open(out_path, "w") as so, open(err_path, "w") as se:
        proc = subprocess.Popen([binary, "serve"], env=env, stdout=so, stderr=se,
                                stdin=subprocess.DEVNULL, cwd=workdir)
    extra = {"config": {k.replace("TRAWL__", "").lower().replace("__", "."): v
                        for k, v in env_kv_dict(env_kv).items()}}
    problems = []
    try:
        base = wait_listening(proc, out_path, 30)
        with open(urlfile, "rb") as f:
            body = b"".join(f.readlines()[:n]) if n else f.read()
        cpu0 = proc_cpu_s(proc.pid)
        s = requests.Session()
        t0 = time.perf_counter()
        r = s.post(f"{base}/v1/jobs", data=body, timeout=max(60, job_timeout),
                   headers={"Content-Type": "text/plain"})
        t_accept = time.perf_counter() - t0
        if r.status_code != 202:
            raise RuntimeError(f"submit answered {r.status_code}: {r.text[:300]}")
        job_id = r.json()["id"]
        hwm_at_accept = proc_hwm_mib(proc.pid)
        probes = start_probes(proc.pid, workdir)
        deadline = t0 + job_timeout
        # Follow the job's event stream, as `trawl submit --wait` does: `end` arrives as
        # soon as the job finishes (polling would add half a poll interval on average).
        job, last_done, last_change = None, -1, time.perf_counter()
        events = s.get(f"{base}/v1/jobs/{job_id}/events", stream=True, timeout=30)
        name = None
        for line in events.iter_lines():
            now = time.perf_counter()
            if line.startswith(b"event:"):
                name = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                job = json.loads(line[5:])
                if name == "end":
                    break
                if job.get("done") != last_done:
                    last_done, last_change = job.get("done"), now
            if now - last_change > 15:
                problems.append(f"stall: done stuck at {last_done}/{n} for 15 s")
                last_change = now
            if now > deadline:
                raise RuntimeError(f"job timeout after {job_timeout:.0f} s: {job}")
        events.close()
        if name != "end":
            raise RuntimeError(f"the event stream ended without `end`: {job}")
        t_done = time.perf_counter() - t0
        probe_out = stop_probes(probes)
        hwm_before_export = proc_hwm_mib(proc.pid)
        # The timed download goes through curl into /dev/null: a Python client reads
        # NDJSON at only ~110,000 records/s here (measured), and this VM writes a file at
        # ~200-300 MB/s (a 1.5 GB export took 1.2-1.5 s to /dev/null and 5.4-8.1 s to a
        # file, side by side): either would be the limit measured, not Trawl's export.
        # A second download, into a file, is counted (and its time reported) after.
        ndjson_url = f"{base}/v1/jobs/{job_id}/results?format=ndjson"
        t_exp0 = time.perf_counter()
        curl_download(ndjson_url, os.devnull, job_timeout)
        t_end = time.perf_counter()
        export_path = os.path.join(workdir, "results.ndjson")
        t_file0 = time.perf_counter()
        curl_download(ndjson_url, export_path, job_timeout)
        to_file_s = time.perf_counter() - t_file0
        # Counted after the clock stops. A record's own "ok" comes before its "json" field,
        # so only the first "ok" of each line counts (the W1 document has one of its own).
        lines = oks = nbytes = 0
        first_ok = re.compile(rb'^[^\n]*?"ok":true', re.M)
        carry = b""
        with open(export_path, "rb") as f:
            while chunk := f.read(1 << 22):
                nbytes += len(chunk)
                lines += chunk.count(b"\n")
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                oks += len(first_ok.findall(data, 0, cut))
                carry = data[cut:]
        oks += len(first_ok.findall(carry))
        os.remove(export_path)
        wall = t_end - t0
        export_s = t_end - t_exp0
        cpu = proc_cpu_s(proc.pid) - cpu0
        hwm = proc_hwm_mib(proc.pid)
        if job.get("state") != "completed":
            problems.append(f"job ended {job.get('state')}: {job.get('error')}")
        if lines != n:
            problems.append(f"ndjson has {lines} lines, expected {n}")
        if job.get("failed"):
            problems.append(f"{job.get('failed')} failed records, errors={job.get('errors')}")
        extra.update({"accept_s": round(t_accept, 3), "fetch_done_s": round(t_done, 3),
                      "export_s": round(export_s, 3), "export_bytes": nbytes,
                      "export_records_per_s": round(lines / export_s, 1) if export_s else None,
                      "download_to_file_s": round(to_file_s, 3),
                      "download_to_file_records_per_s": round(lines / to_file_s, 1) if to_file_s else None,
                      "peak_rss_before_export_mib": round(hwm_before_export, 1),
                      "peak_rss_at_accept_mib": round(hwm_at_accept, 1)})
        if probe_out:
            extra["probe"] = probe_out
        res = result("trawl", n, wall, cpu, hwm, oks, lines, **extra)
    except Exception as e:  # report, do not hide: the row shows the failure
        res = {"tool": "trawl", "n": n, "error": str(e)[:500], **extra}
    finally:
        t_stop = time.perf_counter()
        stopped = stop(proc, 20)
        stop_s = time.perf_counter() - t_stop
    if not stopped:
        problems.append("did not exit within 20 s of SIGTERM (killed)")
    elif proc.returncode not in (0, -signal.SIGTERM):
        problems.append(f"exit status {proc.returncode} after SIGTERM")
    res["stop_s"] = round(stop_s, 2)
    problems += log_problems(err_path) + log_problems(out_path)
    if problems:
        res["problems"] = problems[:10]
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(db + suffix)
        except FileNotFoundError:
            pass
    emit(res)


def curl_download(url, path, timeout):
    c = subprocess.run(["curl", "-sS", "--fail", "-o", path, url], capture_output=True,
                       text=True, timeout=max(60, timeout))
    if c.returncode != 0:
        raise RuntimeError(f"ndjson download failed: curl {c.returncode} {c.stderr[:200]}")


def start_probes(pid, workdir):
    """BENCH_PROBE=1: while the job runs, sample per-process CPU with top, RSS of trawl,
    and (BENCH_PERF=1) record a perf profile of trawl. For the report's "where the time
    goes"; off by default because the probes themselves use CPU."""
    if os.environ.get("BENCH_PROBE") != "1":
        return None
    p = {"top": subprocess.Popen(["top", "-b", "-d", "1", "-w", "200"], stdout=open(
        os.path.join(workdir, "top.log"), "w"), stderr=subprocess.DEVNULL), "pid": pid,
        "workdir": workdir, "rss": [], "stop": False}
    import threading

    def sample_rss():
        while not p["stop"]:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            p["rss"].append(int(line.split()[1]) // 1024)
            except OSError:
                return
            time.sleep(0.5)
    p["thread"] = threading.Thread(target=sample_rss, daemon=True)
    p["thread"].start()
    if os.environ.get("BENCH_PERF") == "1" and shutil.which("perf"):
        p["perf"] = subprocess.Popen(["perf", "record", "-F", "299", "-g", "-p", str(pid), "-o",
                                      os.path.join(workdir, "perf.data")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p


def stop_probes(p):
    if not p:
        return None
    p["stop"] = True
    for name in ("top", "perf"):
        if name in p:
            p[name].send_signal(signal.SIGINT)
            try:
                p[name].wait(30)
            except subprocess.TimeoutExpired:
                p[name].kill()
    p["thread"].join(2)
    # Average %CPU per command over the samples where trawl was busy.
    per_cmd, samples = {}, 0
    for block in open(os.path.join(p["workdir"], "top.log")).read().split("top - ")[2:]:
        samples += 1
        for line in block.splitlines():
            f = line.split()
            if len(f) >= 12 and f[0].isdigit():
                per_cmd[f[11]] = per_cmd.get(f[11], 0.0) + float(f[8])
    top = {k: round(v / samples, 1) for k, v in sorted(per_cmd.items(), key=lambda kv: -kv[1])[:6]} if samples else {}
    rss = p["rss"]
    perf = {}
    if "perf" in p:
        data = os.path.join(p["workdir"], "perf.data")
        for key, sort in (("perf_by_thread", "comm"), ("perf_by_symbol", "dso,symbol")):
            r = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", sort,
                                "--stdio", "-g", "none", "--percent-limit", "1.5"],
                               capture_output=True, text=True, timeout=300)
            perf[key] = [l.strip() for l in r.stdout.splitlines() if l.strip() and not l.startswith("#")][:25]
    return {**perf, "avg_cpu_pct_by_command": top, "rss_mib_samples": rss[:: max(1, len(rss) // 20)],
            }


def env_kv_dict(env_kv):
    return dict(kv.split("=", 1) for kv in env_kv)


def wait_listening(proc, out_path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(out_path) as f:
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", f.read())
        if m:
            return m.group(1)
        if proc.poll() is not None:
            raise RuntimeError(f"trawl exited with {proc.returncode} before listening")
        time.sleep(0.02)
    raise RuntimeError("trawl did not print its listening address within 30 s")


def stop(proc, timeout):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return False


def log_problems(path):
    found = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if re.search(r"\b(ERROR|panicked|WARN)\b", line):
                    found.append(line.strip()[:300])
    except FileNotFoundError:
        pass
    if len(found) > 3:
        found = found[:3] + [f"... {len(found) - 3} more ERROR/WARN log lines"]
    return found


# ---------------------------------------------------------------- wrk

def cmd_wrk(url, threads, conns, seconds):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", url],
                         capture_output=True, text=True, timeout=int(seconds) + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    res = {"tool": "wrk", "urls_per_s": float(m.group(1)) if m else None,
           "wrk_args": f"-t{threads} -c{conns} -d{seconds}s"}
    if errs or sock:
        res["problems"] = [x.group(0) for x in (errs, sock) if x]
    if not m:
        res["error"] = out[-300:]
    emit(res)


# ---------------------------------------------------------------- report

def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, nd=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}"


def cmd_report(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    meta = next((r for r in rows if r.get("tool") == "meta"), {})
    groups = {}
    for r in rows:
        if r.get("tool") == "meta":
            continue
        groups.setdefault((r["workload"], r["label"]), []).append(r)
    out = []
    p = out.append
    p(f"Run: {meta.get('date', '?')}, {meta.get('machine', '')}; RUNS={meta.get('runs')}"
      f"{' QUICK' if meta.get('quick') == '1' else ''}; delay server: {meta.get('delay_server')}; "
      f"repo HEAD {meta.get('trawl_commit', '')}.\n")
    targets = {"W1": "≥ 0.40 × wrk and ≥ 5 × aiohttp (tuned)", "W2": "≥ 0.85 of ideal (tuned)",
               "W3": "≥ 0.15 × wrk (tuned)"}
    for wl in ("W1", "W2", "W3"):
        labels = [lab for (w, lab) in groups if w == wl]
        if not labels:
            continue
        wrk = med(groups.get((wl, "wrk"), []), "urls_per_s")
        desc = meta.get(f"{wl}_desc", "")
        p(f"### {wl}: {desc}\n")
        ideal = meta.get("W2_ideal_s") if wl == "W2" else None
        ref_name = "ideal" if wl == "W2" else "wrk"
        p(f"| client | URLs | wall s | URLs/s | × {ref_name} | CPU ms / 1000 URLs | peak RSS MiB | ok / records | runs |")
        p("|---|---|---|---|---|---|---|---|---|")
        aio = next((med(groups[(wl, lab)], "urls_per_s") for lab in labels if lab.startswith("aiohttp")), None)
        for lab in labels:
            g = groups[(wl, lab)]
            good = [r for r in g if "error" not in r]
            ups = med(good, "urls_per_s")
            if lab == "wrk":
                p(f"| wrk {g[0].get('wrk_args', '')} (same URL, keep-alive) | – | – | {fmt(ups, 0)} | "
                  f"{'1.00' if wl != 'W2' else fmt(ups * ideal / meta.get('W2_n', 1) if ups and ideal else None, 2)} | – | – | – | {len(g)} |")
                continue
            n = good[0]["n"] if good else g[0].get("n")
            if wl == "W2":  # ideal for n URLs at 1000 in flight: n * delay / 1000
                ratio = ((n * meta.get("W2_delay_ms", 50) / 1000 / 1000) / (n / ups)) if ups else None
            else:
                ratio = ups / wrk if ups and wrk else None
            sub = " (subset, URLs/s extrapolates)" if n and n < meta.get(f"{wl}_n", 0) else ""
            okrec = f"{fmt(med(good, 'ok'), 0)} / {fmt(med(good, 'records'), 0)}" if good else "–"
            errs = len(g) - len(good)
            p(f"| {lab}{sub} | {fmt(n)} | {fmt(med(good, 'wall_s'), 2)} | {fmt(ups, 0)} | {fmt(ratio, 2)} | "
              f"{fmt(med(good, 'cpu_ms_per_1000'), 0)} | {fmt(med(good, 'peak_rss_mib'), 0)} | {okrec} | "
              f"{len(good)}{f' ({errs} failed)' if errs else ''} |")
        tuned_rows = [r for r in groups.get((wl, "trawl tuned"), []) if "error" not in r]
        tuned = med(tuned_rows, "urls_per_s")
        floor = next((med([r for r in groups[(wl, lab)] if "error" not in r], "urls_per_s")
                      for lab in labels if lab.startswith("awc alone")), None)
        if tuned_rows:
            accept, done, export = (med(tuned_rows, k) for k in ("accept_s", "fetch_done_s", "export_s"))
            p(f"\nTuned, where its wall time goes (medians): submit → 202 {fmt(accept, 3)} s, "
              f"202 → `end` event {fmt(done - accept if done and accept else None, 3)} s, "
              f"NDJSON export {fmt(export, 3)} s."
              + (f" Tuned runs at {fmt(tuned / floor if floor else None, 2)} × the rate of awc alone, "
                 f"the client with no pipeline around it." if floor else ""))
        if tuned:
            if wl == "W1":
                p(f"\nTarget {targets[wl]}: tuned = {fmt(tuned / wrk if wrk else None, 2)} × wrk, "
                  f"{fmt(tuned / aio if aio else None, 2)} × aiohttp.\n")
            elif wl == "W2":
                n = meta.get("W2_n")
                p(f"\nTarget {targets[wl]}: tuned = {fmt(ideal / (n / tuned) if ideal else None, 2)} of ideal "
                  f"({fmt(ideal, 2)} s for {fmt(n)} URLs).\n")
            else:
                p(f"\nTarget {targets[wl]}: tuned = {fmt(tuned / wrk if wrk else None, 2)} × wrk.\n")
        else:
            p("")
    scal = sorted({lab for (w, lab) in groups if w == "scaling"}, key=lambda s: int(s.split("=")[1]))
    if scal:
        wrk = med(groups.get(("W1", "wrk"), []), "urls_per_s")
        p("### Scaling: W1, fetcher.actors = K (other keys as the tuned config)\n")
        p("| fetcher.actors | URLs/s | × wrk | CPU ms / 1000 URLs | peak RSS MiB | runs |")
        p("|---|---|---|---|---|---|")
        for lab in scal:
            g = [r for r in groups[("scaling", lab)] if "error" not in r]
            ups = med(g, "urls_per_s")
            p(f"| {lab.split('=')[1]} | {fmt(ups, 0)} | {fmt(ups / wrk if ups and wrk else None, 2)} | "
              f"{fmt(med(g, 'cpu_ms_per_1000'), 0)} | {fmt(med(g, 'peak_rss_mib'), 0)} | {len(g)} |")
        p("")
    big = groups.get(("BIG", "trawl tuned"))
    if big:
        b = big[0]
        p(f"### {fmt(b['n'])}-URL job (tuned config, W1 target)\n")
        p("| measure | observed | target |")
        p("|---|---|---|")
        if "error" in b:
            p(f"| run | failed: {b['error']} | – |")
        else:
            p(f"| accepted (POST → 202, committed) | {fmt(b.get('accept_s'), 2)} s | ≤ 10 s |")
            p(f"| peak RSS, whole run (VmHWM) | {fmt(b.get('peak_rss_mib'), 0)} MiB "
              f"(at accept {fmt(b.get('peak_rss_at_accept_mib'), 0)}, before export "
              f"{fmt(b.get('peak_rss_before_export_mib'), 0)}) | ≤ 200 MiB |")
            p(f"| NDJSON export (curl to /dev/null) | {fmt(b.get('export_records_per_s'), 0)} records/s "
              f"({fmt(b.get('export_s'), 1)} s, {fmt(b.get('export_bytes', 0) / 2**20, 0)} MiB) | ≥ 200,000 records/s |")
            p(f"| the same download written to a file (this VM's disk) | "
              f"{fmt(b.get('download_to_file_records_per_s'), 0)} records/s "
              f"({fmt(b.get('download_to_file_s'), 1)} s) | – |")
            p(f"| fetch (submit → completed) | {fmt(b.get('fetch_done_s'), 1)} s = "
              f"{fmt(b['n'] / b['fetch_done_s'] if b.get('fetch_done_s') else None, 0)} URLs/s | – |")
            p(f"| records / ok | {fmt(b.get('records'))} / {fmt(b.get('ok'))} | {fmt(b['n'])} |")
            p(f"| CPU | {fmt(b.get('cpu_ms_per_1000'), 0)} ms / 1000 URLs | – |")
        p("")
    probs = [(r["workload"], r["label"], r.get("run"), r.get("error"), r.get("problems"))
             for r in rows if r.get("error") or r.get("problems")]
    if probs:
        p("### Problems seen during the run\n")
        for wl, lab, run, err, pr in probs:
            p(f"- {wl} / {lab} / run {run}: " + "; ".join(filter(None, [err] + (pr or []))))
        p("")
    print("\n".join(out))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"fixtures": cmd_fixtures, "urls": cmd_urls, "requests": cmd_requests, "aiohttp": cmd_aiohttp,
     "trawl": cmd_trawl, "wrk": cmd_wrk, "awc": cmd_awc, "report": cmd_report}[cmd](*args)


if __name__ == "__main__":
    main()
