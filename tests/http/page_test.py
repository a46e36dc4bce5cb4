#!/usr/bin/env python3
"""The page of `entity serve` in headless Chromium, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: no extra package, no port). It loads; it lists the types with their
counts; a type's table pages and looks up by index; a row shows the entity's JSON; a write by
another process (the entity tool) appears live in the event panel and bumps the count; and the
console shows no error, no exception, no failed request. On a store of odd data: markup in keys and
values stays text, numbers past 2^53 and -0.0 show and link as stored, and each odd string key's
row opens that entity ("." and ".." too, which a browser drops from a path). An evolution while the
page is open shows its new types and fields.

usage: page_test.py ENTITY_BINARY"""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

E = sys.argv[1]
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "*"
for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    os.environ.pop(k, None)
urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))
failures = []
passes = 0


def check(cond, what):
    global passes
    if cond:
        passes += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    print("FAIL: chromium not found (CI installs the Debian package chromium)")
    sys.exit(1)


class CDP:
    """DevTools protocol over Chromium's pipe: NUL-terminated JSON on fds 3 (in) and 4 (out)."""

    def __init__(self, argv, cwd=None, env=None):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(argv, preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=cwd, env=env)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def read_one(self, timeout):
        while b"\0" not in self.buf:
            r, _, _ = select.select([self.from_chrome], [], [], timeout)
            if not r:
                return None
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=30):
        mid = self.send(method, params, session)
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.read_one(max(0.01, deadline - time.time()))
            if m is None:
                break
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)
        raise RuntimeError("%s: no answer in %d s" % (method, timeout))

    def js(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("js %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expr, what, timeout=20):
        """Poll a JavaScript expression until it is truthy (the deadline only bounds a hang)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                v = self.js("!!(%s)" % expr)  # an element comes back as {}: falsy in Python
            except RuntimeError:
                v = False  # the page is still loading (its elements are not there yet)
            if v:
                return v
            time.sleep(0.1)
        check(False, "%s (waited %d s for %s)" % (what, timeout, expr))
        return None


def start_server(work, store, name, extra=()):
    """entity serve on a free port; returns (process, url)."""
    err = open(os.path.join(work, name + ".err"), "w+")
    server = subprocess.Popen([E, "-s", store, "serve", "--listen", "127.0.0.1:0"] + list(extra), stderr=err)
    for _ in range(200):
        err.seek(0)
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", err.read())
        if m:
            return server, "http://127.0.0.1:%s" % m.group(1)
        time.sleep(0.05)
    server.terminate()
    server.wait()
    raise RuntimeError("%s did not start" % name)


WEIRD_SCHEMA = {"schema": "weird", "version": 1, "types": {
    "thing": {"key": "auto", "fields": {
        "name": {"id": 1, "type": "string", "indexed": True}, "big": {"id": 2, "type": "uint"},
        "neg": {"id": 3, "type": "int"}, "f": {"id": 4, "type": "float"}, "attrs": {"id": 5, "type": "map"}}},
    "doc": {"key": "string", "fields": {"title": {"id": 1, "type": "string"}}},
    # names of the server's own routes: /api/events is the event log, /api/events/stream the stream
    "events": {"key": "string", "fields": {"title": {"id": 1, "type": "string"}}},
    "stat": {"key": "auto", "fields": {"n": {"id": 1, "type": "int"}}}}}
XSS = "<img src=x onerror=window.pwned=1>"
DOC_KEYS = [".", "..", "a/b", "q?x=1&key=2", "h#1", "p%20c", "sp ace", "plus+sign", "\u00fcn\u00ef\U0001F600",
            "<script>window.pwned=1</script>", "javascript:window.pwned=1", "k" * 255, "a\0b", "\0"]


def wait_event(chrome, method, timeout=20):
    """The next DevTools event of method (the deadline only bounds a hang); None after it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for i, m in enumerate(chrome.events):
            if m.get("method") == method:
                return chrome.events.pop(i)
        m = chrome.read_one(0.2)
        if m and "method" in m:
            chrome.events.append(m)
    check(False, "no %s in %d s" % (method, timeout))
    return None


def display_of(chrome, id):
    return chrome.js("getComputedStyle(document.getElementById('%s')).display" % id)


def json_or_text(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def click_row(chrome, key):
    """Click the table's row of key; False when there is none."""
    return chrome.js("(tr => tr ? (tr.click(), true) : false)([...document.querySelectorAll('#rows tr')]"
                     ".find(tr => tr.dataset.key === %s))" % json.dumps(key))


def weird_store(work, chrome):
    store = os.path.join(work, "weird")
    with open(os.path.join(work, "weird.json"), "w") as f:
        json.dump(WEIRD_SCHEMA, f)
    run = lambda *a, **kw: subprocess.run([E, "-s", store] + list(a), check=True, capture_output=True, text=True, **kw)
    run("init", "--schema", os.path.join(work, "weird.json"))
    run("put", "thing", '{"f": -0.0, ' + json.dumps({"name": XSS, "big": "18446744073709551615", "neg": -9223372036854775808,
                                    "attrs": {"<script>window.pwned=1</script>": "</textarea>" + XSS,
                                              "u": 9007199254740993}})[1:])
    run("put", "thing", '{"name":"two","big":9007199254740993}')
    # two ids past 2^53 that one double holds: a link by the rounded one reached the other
    run("load", input='{"type":"thing","key":9007199254740992,"version":1,"data":{"name":"near"}}\n'
                      '{"type":"thing","key":9007199254740993,"version":1,"data":{"name":"far"}}\n')
    # by load: a key with a NUL cannot be an argument (its row asked for /api/doc/a%00b: a 400)
    run("load", input="".join(json.dumps({"type": "doc", "key": k, "version": 1, "data": {"title": "t " + k}}) + "\n"
                              for k in DOC_KEYS))
    # an entity of 2 MB (last in key order: a list's page ends after it): the panel showed all of it
    # at once, and the page stood still for seconds
    run("put", "doc", "--key", "\u00ffhuge", "--max-input", "4000000", "-", input=json.dumps({"title": "h\"" * 1000000}))
    run("put", "events", "--key", "party", '{"title":"Party"}')
    run("put", "events", "--key", "stream", '{"title":"Streaming"}')
    run("put", "stat", '{"n":7}')
    server, url = start_server(work, store, "weird")
    try:
        chrome.call("Page.navigate", {"url": url + "/#type=thing"})
        chrome.wait_for("document.querySelectorAll('#rows tr').length === 4", "weird: thing rows")
        keys = chrome.js("[...document.querySelectorAll('#rows tr')].map(tr => tr.dataset.key)")
        check(keys == ["1", "2", "9007199254740992", "9007199254740993"], "weird: row keys past 2^53 %s" % keys)
        cells = chrome.js("[...document.querySelectorAll('#rows tr')].map(tr => [...tr.children].map(td => td.textContent))")
        check(cells[0][2:6] == [XSS, "18446744073709551615", "-9223372036854775808", "-0.0"],
              "weird: an int64's least and -0.0 shown as stored %s" % cells[0])
        check('"u":9007199254740993' in cells[0][6], "weird: a free-form number past 2^53 in its cell %r" % cells[0][6])
        check(cells[1][3] == "9007199254740993", "weird: a uint past 2^53 in its cell %r" % cells[1][3])
        # the row of 9007199254740993 opens that entity, not 9007199254740992 (which a double makes of it)
        # (the last row, in key order: the page's rounded key showed entity "near" there)
        chrome.js("document.querySelector('#rows tr:last-child').click()")
        chrome.wait_for("document.getElementById('entity').textContent.includes('\"name\"')", "weird: its JSON", 5)
        shown = json_or_text(chrome.js("document.getElementById('entity').textContent"))
        check(isinstance(shown, dict) and shown["key"] == 9007199254740993 and shown["data"]["name"] == "far",
              "weird: the row of 9007199254740993 shows %s" % shown)
        check(chrome.js("location.hash") == "#type=thing&key=9007199254740993", "weird: its address")
        # entity 1 as the API writes it, character for character apart from the indentation
        chrome.js("location.hash = '#type=thing&key=1'")
        chrome.wait_for("document.getElementById('entity-title').textContent.startsWith('thing 1 ')", "weird: entity 1", 5)
        text = chrome.js("document.getElementById('entity').textContent")
        api = urllib.request.urlopen(url + "/api/thing/1").read().decode()
        check(re.sub(r"\s", "", text) == re.sub(r"\s", "", api), "weird: entity 1 shown %r, API %r" % (text, api))
        # no markup of the data became elements, no handler of it ran
        check(chrome.js("document.querySelectorAll('main img, main script, main b').length") == 0 and
              chrome.js("window.pwned === undefined"), "weird: markup in values stays text")
        # every odd string key: its row opens it, and so does its address
        chrome.js("location.hash = '#type=doc'")
        chrome.wait_for("document.querySelectorAll('#rows tr').length === %d" % (len(DOC_KEYS) + 1), "weird: doc rows")
        check(click_row(chrome, "\u00ffhuge"), "weird: a row of doc \u00ffhuge")
        chrome.wait_for("document.getElementById('entity-title').textContent === 'doc \u00ffhuge \u00b7 version 1'",
                        "weird: huge", 5)
        n = chrome.js("document.getElementById('entity').textContent.length")
        check(n < 200000 and chrome.js("document.getElementById('entity').textContent.includes('more characters')") and
              chrome.js("!document.getElementById('whole').hidden"), "weird: the huge entity cut (%d characters)" % n)
        chrome.js("(b => b && b.click())(document.getElementById('whole'))")
        whole = json_or_text(chrome.js("document.getElementById('entity').textContent"))
        check(whole == json.load(urllib.request.urlopen(url + "/api/doc/%C3%BFhuge")), "weird: the huge entity whole on a click")
        check(chrome.js("(b => !b || b.hidden)(document.getElementById('whole'))"), "weird: no 'show all' once all is shown")
        for k in DOC_KEYS:
            check(click_row(chrome, k), "weird: a row of doc %r" % k)
            chrome.wait_for("document.getElementById('entity-title').textContent === %s" % json.dumps("doc " + k + " \u00b7 version 1"),
                            "weird: doc %r opened" % k, timeout=5)
            got = json_or_text(chrome.js("document.getElementById('entity').textContent"))
            check(isinstance(got, dict) and got["key"] == k, "weird: the row of doc %r shows %r" % (k, got))
            check(chrome.js("new URLSearchParams(location.hash.slice(1)).get('key')") == k, "weird: address of doc %r" % k)
        check(chrome.js("document.querySelectorAll('main img, main script').length") == 0 and
              chrome.js("window.pwned === undefined"), "weird: markup in keys stays text")
        # a type named events lists its entities (not the event log), and its entity "stream" opens
        # (rows emptied first: the ones shown are the answer to this type's list)
        chrome.js("document.getElementById('rows').replaceChildren(); location.hash = '#type=events'")
        chrome.wait_for("document.getElementById('title').textContent === 'events' && "
                        "document.querySelector('#rows tr')", "weird: events rows")
        keys = chrome.js("[...document.querySelectorAll('#rows tr')].map(tr => tr.dataset.key)")
        check(keys == ["party", "stream"], "weird: the rows of type events %s" % keys)
        check(click_row(chrome, "stream"), "weird: a row of events stream")
        chrome.wait_for("document.getElementById('entity-title').textContent === 'events stream \u00b7 version 1'",
                        "weird: events stream opened", 5)
        got = json_or_text(chrome.js("document.getElementById('entity').textContent"))
        check(isinstance(got, dict) and got["data"] == {"title": "Streaming"}, "weird: events stream shows %r" % got)
        chrome.js("document.getElementById('rows').replaceChildren(); location.hash = '#type=stat'")
        chrome.wait_for("document.getElementById('title').textContent === 'stat' && "
                        "(document.querySelector('#rows tr') || document.getElementById('msg').textContent)", "weird: stat rows")
        cells = chrome.js("[...document.querySelectorAll('#rows tr')].map(tr => [...tr.children].map(td => td.textContent))")
        check(cells == [["1", "1", "7"]], "weird: the rows of type stat %s (%s)" % (cells, chrome.js("document.getElementById('msg').textContent")))
        # answers that come late: the table and the entity panel show the last click's, whatever
        # order the answers come in (a request held by the DevTools Fetch domain until the later
        # one is shown; then the page is given the held answer and every task it makes)
        chrome.js("window.__answers = []; const f = window.fetch; window.fetch = (...a) => { const p = f(...a);"
                  " __answers.push(p.then(r => r.clone().text()).catch(() => null)); return p; }; 0")
        chrome.call("Fetch.enable", {"patterns": [{"urlPattern": "*/api/doc/?limit=*"}]})
        chrome.js("location.hash = '#type=doc'")
        held = wait_event(chrome, "Fetch.requestPaused")
        chrome.js("location.hash = '#type=events'")
        chrome.wait_for("document.querySelectorAll('#rows tr').length === 2", "weird: events listed while doc's answer is held")
        if held:
            chrome.call("Fetch.continueRequest", {"requestId": held["params"]["requestId"]})
        chrome.js("Promise.all(__answers).then(() => new Promise(r => setTimeout(r, 0)))")
        keys = chrome.js("[...document.querySelectorAll('#rows tr')].map(tr => tr.dataset.key)")
        check(keys == ["party", "stream"], "weird: a late answer of doc's list filled events' table: %s" % keys[:3])
        chrome.call("Fetch.disable")
        chrome.js("document.getElementById('rows').replaceChildren(); location.hash = '#type=doc'")
        chrome.wait_for("document.querySelector('#rows tr')", "weird: doc listed")
        chrome.call("Fetch.enable", {"patterns": [{"urlPattern": "*/api/doc/a%2Fb"}]})
        chrome.js("location.hash = '#type=doc&key=a%2Fb'")
        held = wait_event(chrome, "Fetch.requestPaused")
        chrome.js("location.hash = '#type=doc&key=h%231'")
        chrome.wait_for("document.getElementById('entity-title').textContent === 'doc h#1 \u00b7 version 1'",
                        "weird: doc h#1 shown while a/b's answer is held", 5)
        if held:
            chrome.call("Fetch.continueRequest", {"requestId": held["params"]["requestId"]})
        chrome.js("Promise.all(__answers).then(() => new Promise(r => setTimeout(r, 0)))")
        title = chrome.js("document.getElementById('entity-title').textContent")
        check(title == "doc h#1 \u00b7 version 1", "weird: a late answer of doc a/b replaced h#1: %r" % title)
        chrome.call("Fetch.disable")
        # a live event of an entity past 2^53 names its key
        chrome.wait_for("document.getElementById('live').textContent === 'stream: live'", "weird: stream")
        req = urllib.request.Request(url + "/api/thing/9007199254740993", data=b'{"name":"farther"}', method="PATCH")
        urllib.request.urlopen(req)
        chrome.wait_for("document.querySelector('#events li')", "weird: live event")
        text = chrome.js("document.querySelector('#events li').textContent")
        check("thing 9007199254740993 v2" in text, "weird: live event text %r" % text)
    finally:
        server.terminate()
        check(server.wait(timeout=10) == 0, "weird server exit code")


def damaged_store(work, chrome):
    """A store whose customer id counter is damaged (its record cut to 1 byte by LMDB's own mdb_load,
    as the cli test's store dmgc): the page lists every type, the damaged one marked with the
    reason (/api/stat answered 500 and the page listed no type at all), and its entities still open."""
    store = os.path.join(work, "dmgc")
    run = lambda *a: subprocess.run([E, "-s", store] + list(a), check=True, capture_output=True, text=True)
    run("init", "--schema", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas", "shop.json"))
    for i in (1, 2):
        run("put", "customer", json.dumps({"email": "d%d@x" % i, "name": "D"}))
    run("put", "product", "--key", "p", '{"price":1}')
    if not shutil.which("mdb_load"):
        check(False, "damaged: mdb_load missing (lmdb-utils: .ci/deps.sh installs it)")
        return
    subprocess.run(["mdb_load", "-s", "meta", store], check=True, input="VERSION=3\nformat=bytevalue\ntype=btree\n"
                   "HEADER=END\n 6374722f637573746f6d6572\n c1\nDATA=END\n", text=True)
    server, url = start_server(work, store, "dmgc")
    try:
        chrome.call("Page.navigate", {"url": url + "/"})
        chrome.wait_for("document.querySelectorAll('#types li').length === 3", "damaged: the types listed")
        shown = chrome.js("Object.fromEntries([...document.querySelectorAll('#types li')].map("
                          "li => [li.dataset.type, [li.querySelector('.count').textContent, li.classList.contains('damaged')]]))")
        check(shown == {"customer": ["damaged", True], "product": ["1", False], "order": ["0", False]},
              "damaged: the types shown %s" % shown)
        why = 'customer: its id counter and count: store meta "ctr/customer": 1 bytes, expected 16'
        check(why in (chrome.js("document.getElementById('damage').textContent") or ""),
              "damaged: the damage named %r" % chrome.js("document.getElementById('damage').textContent"))
        check(chrome.js("document.querySelector('#types li[data-type=\"customer\"]').title") == why,
              "damaged: the type's title %r" % chrome.js("document.querySelector('#types li[data-type=\"customer\"]').title"))
        # the damaged type still opens: its entities read
        chrome.js("document.querySelector('#types li[data-type=\"customer\"]').click()")
        chrome.wait_for("location.hash === '#type=customer' && document.querySelectorAll('#rows tr').length === 2",
                        "damaged: the customer rows")
        check(why in (chrome.js("document.getElementById('damage').textContent") or ""), "damaged: still named after a click")
        # a live create of another type still counts
        chrome.wait_for("document.getElementById('live').textContent === 'stream: live'", "damaged: stream")
        run("put", "product", "--key", "q", '{"price":2}')
        chrome.wait_for("document.querySelector('#types li[data-type=\"product\"] .count').textContent === '2'",
                        "damaged: a live create of a product counted")
        check(chrome.js("document.querySelector('#types li[data-type=\"customer\"] .count').textContent") == "damaged",
              "damaged: the damaged count stays marked")
    finally:
        server.terminate()
        check(server.wait(timeout=10) == 0, "damaged server exit code")


def main():
    work = tempfile.mkdtemp()
    store = os.path.join(work, "st")
    server = None
    chrome = None
    try:
        subprocess.run([E, "-s", store, "demo"], check=True, stdout=subprocess.DEVNULL)
        # 25 more customers: the table (20 a page) then has a second page
        for i in range(25):
            subprocess.run([E, "-s", store, "put", "customer", json.dumps({"email": "p%d@x" % i, "name": "p%d" % i})],
                           check=True, stdout=subprocess.DEVNULL)
        # 15 more paid orders: a look-up of the paid ones then has a second page
        for i in range(15):
            subprocess.run([E, "-s", store, "put", "order", json.dumps({"customer": 1, "status": "paid"})],
                           check=True, stdout=subprocess.DEVNULL)
        paid = subprocess.run([E, "-s", store, "find", "order", "status", "paid"], check=True, capture_output=True,
                              text=True).stdout.split("\n")
        paid = [str(json.loads(l)["key"]) for l in paid if l]
        err = open(os.path.join(work, "server.err"), "w+")
        server = subprocess.Popen([E, "-s", store, "serve", "--listen", "127.0.0.1:0"], stderr=err)
        port = None
        for _ in range(200):
            err.seek(0)
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", err.read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.05)
        if not port:
            print("FAIL: server did not start")
            return 1
        url = "http://127.0.0.1:%d" % port
        stat = json.load(urllib.request.urlopen(url + "/api/stat"))

        # Chromium's temporary files go in work too, through a relative TMPDIR (Chromium runs in
        # work): its singleton's Unix socket is made in TMPDIR, and a socket's path has room for 107
        # bytes only, so under a long TMPDIR (the suite's may be) Chromium stopped at start with
        # "Socket path too long", and left that directory behind.
        os.mkdir(os.path.join(work, "t"))
        chrome = CDP([chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                      "--no-default-browser-check", "--disable-extensions", "--remote-debugging-pipe",
                      "--user-data-dir=" + os.path.join(work, "profile"), "about:blank"],
                     cwd=work, env=dict(os.environ, TMPDIR="t"))
        target = chrome.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        chrome.session = chrome.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                     session=False)["sessionId"]
        for domain in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
            chrome.call(domain)
        chrome.call("Page.navigate", {"url": url + "/"})

        # the types, with the counts of /api/stat
        chrome.wait_for("document.querySelectorAll('#types li').length === %d" % len(stat["types"]), "types listed")
        shown = chrome.js("Object.fromEntries([...document.querySelectorAll('#types li')].map("
                          "li => [li.dataset.type, +li.querySelector('.count').textContent]))")
        check(shown == {t: v["count"] for t, v in stat["types"].items()}, "type counts %s" % shown)
        check("shop v1" in chrome.js("document.getElementById('store').textContent"), "schema name shown")

        # the first type opens by itself; choose customer
        chrome.js("document.querySelector('#types li[data-type=\"customer\"]').click()")
        chrome.wait_for("location.hash === '#type=customer' && document.querySelectorAll('#rows tr').length === 20",
                        "customer table, first page of 20")
        keys = chrome.js("[...document.querySelectorAll('#rows tr')].map(tr => tr.dataset.key)")
        check(keys == [str(k) for k in range(1, 21)], "first page keys %s" % keys)
        heads = chrome.js("[...document.querySelectorAll('#thead th')].map(th => th.textContent)")
        check(heads == ["key", "version", "email", "name", "joined", "vip"], "columns %s" % heads)
        # paging
        chrome.js("document.getElementById('next').click()")
        chrome.wait_for("document.querySelector('#rows tr') && document.querySelector('#rows tr').dataset.key === '21'",
                        "second page")
        check(chrome.js("document.querySelectorAll('#rows tr').length") == 17, "second page holds the other 17")
        check(chrome.js("document.getElementById('next').disabled") is True, "no third page")
        chrome.js("document.getElementById('first').click()")
        chrome.wait_for("document.querySelector('#rows tr').dataset.key === '1'", "back to the first page")
        # index look-up
        chrome.js("document.getElementById('field').value = 'email';"
                  "document.getElementById('value').value = 'grace@example.com';"
                  "document.getElementById('lookup').requestSubmit()")
        chrome.wait_for("document.querySelectorAll('#rows tr').length === 1 && "
                        "document.querySelector('#rows tr').dataset.key === '2'", "look-up by email")
        chrome.js("document.getElementById('clear').click()")
        chrome.wait_for("document.querySelectorAll('#rows tr').length === 20", "look-up cleared")
        # a look-up of more than a page pages with next and first
        chrome.js("document.querySelector('#types li[data-type=\"order\"]').click()")
        # (an order row has 5 cells: key, version and 3 fields; a customer row 6)
        chrome.wait_for("location.hash === '#type=order' && document.querySelectorAll('#rows tr').length === 20 &&"
                        " document.querySelector('#rows tr').children.length === 5", "order table")
        chrome.js("document.getElementById('field').value = 'status';"
                  "document.getElementById('value').value = 'paid';"
                  "document.getElementById('lookup').requestSubmit()")
        chrome.wait_for("document.querySelector('#rows tr') && document.querySelector('#rows tr').dataset.key === '%s'"
                        " && document.querySelectorAll('#rows tr').length === 20" % paid[0], "look-up of paid orders")
        chrome.wait_for("!document.getElementById('next').disabled", "next page of a look-up")
        chrome.js("document.getElementById('next').click()")
        chrome.wait_for("document.querySelector('#rows tr').dataset.key === '%s'" % paid[20], "look-up's second page")
        got = chrome.js("[...document.querySelectorAll('#rows tr')].map(tr => tr.dataset.key)")
        check(got == paid[20:40], "look-up's second page %s (want %s)" % (got, paid[20:40]))
        chrome.js("document.getElementById('first').click()")
        chrome.wait_for("document.querySelector('#rows tr').dataset.key === '%s'" % paid[0], "look-up's first page again")
        chrome.js("document.querySelector('#types li[data-type=\"customer\"]').click()")
        chrome.wait_for("location.hash === '#type=customer' && document.querySelectorAll('#rows tr').length === 20"
                        " && document.querySelector('#rows tr').dataset.key === '1'", "back to customers")

        # one entity's JSON, as GET /api/customer/1 gives it
        chrome.js("document.querySelector('#rows tr[data-key=\"1\"]').click()")
        chrome.wait_for("document.getElementById('entity').textContent.includes('ada@example.com')", "entity shown")
        shown = json.loads(chrome.js("document.getElementById('entity').textContent"))
        check(shown == json.load(urllib.request.urlopen(url + "/api/customer/1")), "entity JSON %s" % shown)
        check(chrome.js("location.hash") == "#type=customer&key=1", "entity in the address")

        # live: another process writes; the event appears and the count goes up
        chrome.wait_for("document.getElementById('live').textContent === 'stream: live'", "stream connected")
        before = chrome.js("+document.querySelector('#types li[data-type=\"customer\"] .count').textContent")
        out = subprocess.run([E, "-s", store, "put", "customer", '{"email":"live@x","name":"Live"}'],
                             check=True, capture_output=True, text=True).stdout
        key = json.loads(out)["key"]
        seq = json.load(urllib.request.urlopen(url + "/api/stat"))["log"]["last_seq"]
        chrome.wait_for("document.querySelector('#events li[data-seq=\"%d\"]')" % seq, "live event %d" % seq)
        text = chrome.js("document.querySelector('#events li[data-seq=\"%d\"]').textContent" % seq)
        check("create" in text and ("customer %d" % key) in text, "live event text %r" % text)
        chrome.wait_for("+document.querySelector('#types li[data-type=\"customer\"] .count').textContent === %d"
                        % (before + 1), "count after the live create")
        chrome.js("document.querySelector('#events li[data-seq=\"%d\"]').click()" % seq)
        ev = json.loads(chrome.js("document.getElementById('entity').textContent"))
        check(ev["seq"] == seq and ev["op"] == "create" and ev["data"]["email"] == "live@x", "event JSON %s" % ev)
        # an update through the API shows too
        req = urllib.request.Request(url + "/api/customer/%d" % key, data=b'{"vip":true}', method="PATCH")
        urllib.request.urlopen(req)
        chrome.wait_for("document.querySelector('#events li[data-seq=\"%d\"]')" % (seq + 1), "live update")

        # a raise of the id counter by another process (a load of a dump's counter line) is an event
        # of op last_id: it shows, and the type's count stays (it took one off, as a delete)
        ccount = chrome.js("+document.querySelector('#types li[data-type=\"customer\"] .count').textContent")
        subprocess.run([E, "-s", store, "load"], input='{"type":"customer","last_id":500000}\n', check=True,
                       capture_output=True, text=True)
        seq = json.load(urllib.request.urlopen(url + "/api/stat"))["log"]["last_seq"]
        chrome.wait_for("document.querySelector('#events li[data-seq=\"%d\"]')" % seq, "live last_id %d" % seq)
        text = chrome.js("document.querySelector('#events li[data-seq=\"%d\"]').textContent" % seq)
        check("last_id" in text and "customer 500000" in text, "live last_id text %r" % text)
        after = chrome.js("+document.querySelector('#types li[data-type=\"customer\"] .count').textContent")
        check(after == ccount, "the customer count after a raise of its id counter: %d, was %d" % (after, ccount))

        # an evolution by another process while the page is open: a new type and a new field show once
        # events name them (the page kept the schema and the types of its load: the new type was never
        # listed nor counted, the new field had no column, the header said v1), and the counts stay
        # exact across the page's reload of them (events that came meanwhile counted once)
        evolved = json.loads(subprocess.run([E, "-s", store, "schema"], check=True, capture_output=True, text=True).stdout)
        evolved["version"] = 2
        evolved["types"]["coupon"] = {"key": "string", "fields": {"pct": {"id": 1, "type": "int"}}}
        evolved["types"]["customer"]["fields"]["tier"] = {"id": 5, "type": "string", "default": "basic"}
        with open(os.path.join(work, "v2.json"), "w") as f:
            json.dump(evolved, f)
        subprocess.run([E, "-s", store, "schema", "--apply", os.path.join(work, "v2.json")], check=True, capture_output=True)
        ccount = chrome.js("+document.querySelector('#types li[data-type=\"customer\"] .count').textContent")
        for i in range(3):
            subprocess.run([E, "-s", store, "put", "coupon", "--key", "c%d" % i, '{"pct":%d}' % i], check=True, capture_output=True)
        subprocess.run([E, "-s", store, "put", "customer", '{"email":"v2@x","name":"V2"}'], check=True, capture_output=True)
        seq = json.load(urllib.request.urlopen(url + "/api/stat"))["log"]["last_seq"]
        chrome.wait_for("document.querySelector('#events li[data-seq=\"%d\"]')" % seq, "live event %d after the evolution" % seq)
        check("..%d" % seq in chrome.js("document.getElementById('store').textContent"),
              "the header's log range follows the events: %r" % chrome.js("document.getElementById('store').textContent"))
        chrome.wait_for("document.querySelector('#types li[data-type=\"coupon\"]')", "the new type listed", 5)
        chrome.wait_for("document.getElementById('store').textContent.includes('shop v2')", "the new version shown", 5)
        shown = chrome.js("Object.fromEntries([...document.querySelectorAll('#types li')].map("
                          "li => [li.dataset.type, +li.querySelector('.count').textContent]))")
        check(shown.get("coupon") == 3 and shown.get("customer") == ccount + 1, "counts after the evolution %s" % shown)
        heads = chrome.js("[...document.querySelectorAll('#thead th')].map(th => th.textContent)")
        check(heads == ["key", "version", "email", "name", "joined", "vip", "tier"], "columns after the evolution %s" % heads)

        # no console errors, exceptions or failed requests while all of that ran
        chrome.call("Runtime.evaluate", {"expression": "1"})
        errors = []
        for m in chrome.events:
            meth, p = m.get("method"), m.get("params", {})
            if meth == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "") + " " +
                              str(p["exceptionDetails"].get("exception", {}).get("description", "")))
            elif meth == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                errors.append("console.%s: %s" % (p["type"], [a.get("value") for a in p.get("args", [])]))
            elif meth == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
                errors.append("log: %s %s" % (p["entry"].get("text"), p["entry"].get("url", "")))
            elif meth == "Network.loadingFailed" and not p.get("canceled"):
                errors.append("request failed: %s" % p.get("errorText"))
            elif meth == "Network.responseReceived" and p["response"]["status"] >= 400:
                errors.append("HTTP %d for %s" % (p["response"]["status"], p["response"]["url"]))
        check(not errors, "console errors: %s" % errors)
        check(any(m.get("method") == "Network.responseReceived" and m["params"]["response"]["url"].endswith(
            "/api/events/stream") for m in chrome.events), "the page opened the event stream")

        # an answer that is not JSON (libmicrohttpd's own HTML page for a URL over its memory, 64 KiB;
        # one over the server's 8 KiB is a JSON 414) shows its status, not a JSON parser's complaint
        # about '<'
        chrome.js("document.getElementById('field').value = 'email';"
                  "document.getElementById('value').value = 'a'.repeat(80000);"
                  "document.getElementById('lookup').requestSubmit()")
        chrome.wait_for("document.getElementById('msg').textContent.includes('414')", "a 414 shown by its status")
        msg = chrome.js("document.getElementById('msg').textContent")
        check("JSON" not in msg and "<" not in msg, "the 414 message %r" % msg)
        # the server gone: the stream says so, and a click says the server does not answer
        server.terminate()
        check(server.wait(timeout=10) == 0, "server exit code after SIGTERM with the page open")
        server = None
        chrome.wait_for("document.getElementById('live').textContent === 'stream: reconnecting'", "stream lost shown")
        chrome.js("location.hash = '#type=customer&key=3'")
        chrome.wait_for("document.getElementById('entity').textContent.includes('does not answer')",
                        "a click with the server gone says it does not answer")

        # behind a token: the page asks for it on the first 401, then works (and streams) with it
        with open(os.path.join(work, "token"), "w") as f:
            # (not ASCII: a header value is bytes, and fetch() refused the characters past U+00FF)
            f.write("page-t\u00f6k\u20acn\n")
        err2 = open(os.path.join(work, "server2.err"), "w+")
        server2 = subprocess.Popen([E, "-s", store, "serve", "--listen", "127.0.0.1:0", "--token-file",
                                    os.path.join(work, "token")], stderr=err2)
        try:
            port2 = None
            for _ in range(200):
                err2.seek(0)
                m = re.search(r"http://127\.0\.0\.1:(\d+)/", err2.read())
                if m:
                    port2 = int(m.group(1))
                    break
                time.sleep(0.05)
            check(port2 is not None, "token server started")
            chrome.call("Page.navigate", {"url": "http://127.0.0.1:%d/" % port2})
            chrome.wait_for("getComputedStyle(document.getElementById('auth')).display !== 'none'", "token form shown")
            check(chrome.js("document.querySelectorAll('#types li').length") == 0, "no data without the token")
            chrome.js("document.getElementById('token').value = 'wrong';"
                      "document.getElementById('auth').requestSubmit()")
            chrome.wait_for("document.getElementById('msg').textContent === 'the server refused this token'",
                            "a wrong token said so")
            check(display_of(chrome, "auth") != "none", "token form shown again after a wrong token")
            chrome.js("document.getElementById('token').value = 'page-t\u00f6k\u20acn';"
                      "document.getElementById('auth').requestSubmit()")
            chrome.wait_for("document.querySelectorAll('#types li').length === %d" % len(evolved["types"]),
                            "types listed with the token")
            chrome.wait_for("document.getElementById('live').textContent === 'stream: live'", "stream with the token")
            check(chrome.js("getComputedStyle(document.getElementById('auth')).display") == "none", "token form hidden")
        finally:
            server2.terminate()
            check(server2.wait(timeout=10) == 0, "token server exit code")

        # data no example holds: markup in names, keys and values; numbers a double cannot hold;
        # string keys that a URL changes unless escaped, and the dot segments a browser drops
        weird_store(work, chrome)
        damaged_store(work, chrome)
        chrome.call("Browser.close", session=False)
    finally:
        if chrome:
            try:
                chrome.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                chrome.proc.kill()
        if server:
            server.terminate()
            try:
                rc = server.wait(timeout=10)
                check(rc == 0, "server exit code %s after SIGTERM" % rc)
            except subprocess.TimeoutExpired:
                server.kill()
                check(False, "server hung at SIGTERM")
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passes, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
