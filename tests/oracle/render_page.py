"""Opens an HTML file in a real headless browser (Debian's chromium) through the DevTools protocol and
reports what a reader would see: every request the page made and whether it failed, each SVG figure's
drawn size and number of shapes, and a full-page screenshot.

usage: render_page.py PAGE.html SCREENSHOT.png
prints one JSON object: {"requests": [...], "failed": [...], "figures": {plot: {"width", "height",
"shapes"}}, "empty": [...], "title": ...}; exits non-zero when the browser could not render the page
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(page, screenshot):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed")
    port = free_port()
    profile = tempfile.mkdtemp()
    # --no-sandbox: the tests run as root in CI, where chromium's sandbox refuses to start
    proc = subprocess.Popen([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "--window-size=1200,900",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        target = None
        for _ in range(100):
            try:
                tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
                target = next(t for t in tabs if t.get("type") == "page")
                break
            except Exception:
                time.sleep(0.1)
        if target is None:
            sys.exit("chromium did not open its DevTools port")
        ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30)
        ids = iter(range(1, 10**6))
        events = []

        def call(method, **params):
            i = next(ids)
            ws.send(json.dumps({"id": i, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == i:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return msg.get("result", {})
                events.append(msg)

        call("Network.enable")
        call("Page.enable")
        call("Page.navigate", url="file://" + os.path.abspath(page))
        deadline = time.time() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in events) and time.time() < deadline:
            events.append(json.loads(ws.recv()))
        requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
        failed = [e["params"].get("errorText", "") for e in events if e.get("method") == "Network.loadingFailed"]
        figures = call("Runtime.evaluate", returnByValue=True, expression="""(() => {
            const out = {};
            for (const svg of document.querySelectorAll('svg[data-plot]')) {
                const box = svg.getBoundingClientRect();
                out[svg.dataset.plot] = {width: box.width, height: box.height,
                    shapes: svg.querySelectorAll('polyline, polygon, circle, rect, path').length};
            }
            return {figures: out, title: document.title,
                    empty: [...document.querySelectorAll('figure.empty')].map(f => f.dataset.figure)};
        })()""")["result"]["value"]
        height = call("Runtime.evaluate", returnByValue=True, expression="document.documentElement.scrollHeight")["result"]["value"]
        shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                    clip={"x": 0, "y": 0, "width": 1200, "height": height, "scale": 1})
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        ws.close()
        print(json.dumps({"requests": requests, "failed": failed, **figures}))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
