"""Times the web UI's pages by their Server-Timing header (the relay's own time for the page,
not the network's), each beside GET /health/live measured the same way in the same run.
Usage: web_bench.py URL DEVICE_TOKEN EMAIL PASSWORD RUNS"""
import http.cookiejar
import json
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request
import uuid

base, token, email, password, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def get(path):
    """(status, server ms, client ms, body)."""
    start = time.perf_counter()
    try:
        response = opener.open(base + path)
    except urllib.error.HTTPError as error:
        response = error
    body = response.read().decode()
    client = (time.perf_counter() - start) * 1000
    match = re.search(r"dur=([0-9.]+)", response.headers.get("Server-Timing") or "")
    return response.status, float(match.group(1)) if match else None, client, body


login = get("/login")[3]
csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
form = urllib.parse.urlencode({"csrf": csrf, "email": email, "password": password, "next": "/sessions"}).encode()
try:
    opener.open(urllib.request.Request(base + "/login", data=form))
except urllib.error.HTTPError as error:
    assert error.code == 303, error.code

# A 30-minute visit through the device API (the schema's own document, one estimate a second).
visit = str(uuid.uuid4())
samples = []
for t in range(1800):
    sample = {"t": float(t)}
    if t >= 8 and not 900 <= t < 915:
        sample.update(bpm=round(72 + 6 * ((t % 120) / 60 - 1), 1), snr_db=1.5 if 400 <= t < 430 else 7.0)
        if t % 5 == 0:
            sample["respiration_bpm"] = 14.0
    samples.append(sample)
rates = sorted(s["bpm"] for s in samples if "bpm" in s)
document = {
    "schema_version": 1, "id": visit, "started_at": "2027-01-15T09:00:00.000Z", "ended_at": "2027-01-15T09:30:00.000Z",
    "end_reason": "absence", "heart_rate": samples,
    "summary": {"heart_rate_median_bpm": rates[len(rates) // 2], "heart_rate_min_bpm": rates[0], "heart_rate_max_bpm": rates[-1],
                "snr_median_db": 7.0, "seconds_with_estimate": len(rates), "respiration_median_bpm": 14.0},
    "voice_turns": [], "metadata": {"software_version": "0.5.0", "pulse_method": "pos"},
}
upload = urllib.request.Request(base + "/v1/sessions", data=json.dumps(document).encode(), method="POST",
                                headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
assert urllib.request.urlopen(upload).status == 201

# A page deep in the list: follow "Older visits" links 40 times (1,000 visits in), then time that page.
path = "/sessions"
for _ in range(40):
    body = get(path)[3]
    path = re.search(r'rel="next" href="([^"]+)"', body).group(1).replace("&amp;", "&")
deep = path
cases = [("visits, first page", "/sessions"), ("visits, page 41 (keyset)", deep), ("visits, one kiosk", "/sessions?kiosk=" + token.split(".")[1]),
         ("visit, 30-min series", "/sessions/" + visit), ("reference: /health/live", "/health/live")]
for _ in range(5):  # warm-up
    for _, p in cases:
        get(p)

results = {name: [] for name, _ in cases}
for _ in range(runs):
    for name, p in cases:
        samples_ms = []
        for _ in range(20):
            status, server, client, _ = get(p)
            assert status == 200, (p, status)
            samples_ms.append((server, client))
        results[name].append((statistics.median(s for s, _ in samples_ms if s is not None) if p != "/health/live" else None,
                              statistics.median(c for _, c in samples_ms)))

print(f"{runs} runs of 20 requests each, medians; server = the page's Server-Timing, client = loopback round trip")
print(f"{'page':30s} {'server ms':>10s} {'client ms':>10s} {'client / reference':>19s}")
reference = statistics.median(c for _, c in results["reference: /health/live"])
for name, _ in cases:
    server = [s for s, _ in results[name] if s is not None]
    client = statistics.median(c for _, c in results[name])
    print(f"{name:30s} {statistics.median(server) if server else float('nan'):10.2f} {client:10.2f} {client / reference:18.1f}x")
