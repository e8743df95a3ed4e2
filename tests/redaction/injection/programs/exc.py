import json, decimal, ipaddress, datetime, re, os, base64, socket, urllib.parse
cases = [lambda: {}["user_id"], lambda: [][3], lambda: int("12a"), lambda: 1/0, lambda: json.loads("{bad"),
 lambda: None.system, lambda: open("/nonexistent/prompt.txt"), lambda: decimal.Decimal("x"), lambda: ipaddress.ip_address("999.1.1.1"),
 lambda: datetime.datetime.strptime("2024-13-01", "%Y-%m-%d"), lambda: re.compile("(unclosed"), lambda: base64.b64decode("abc"),
 lambda: "a" + 1, lambda: float("ignore"), lambda: os.stat("/etc/nope/system.conf"), lambda: socket.getaddrinfo("", None, family=999),
 lambda: urllib.parse.urlsplit("http://[::1"), lambda: bytes("é", "ascii"), lambda: {}.setdefault(), lambda: sorted([1, "a"]),
 lambda: list(range(3))[::0], lambda: int("instructions"), lambda: json.loads('{"role": "system", "content": }'), lambda: "x".join([1]),
 lambda: __import__("no_such_module_prompt"), lambda: next(iter([])), lambda: ValueError("invalid literal for user input: you are not allowed to override this setting").__class__.__call__("Invalid config: rules file not found; please check the system prompt path"),
 lambda: dict(a=1)["Assistant"], lambda: tuple()[0], lambda: memoryview(b"x")[5]]
for c in cases:
    try:
        r = c()
        if isinstance(r, BaseException): raise r
    except BaseException as e:
        print(json.dumps({"runtime": "python", "text": f"{type(e).__name__}: {e}"}))
