"""Renders keepalived.conf from the role's JSON config, and parses it back.

  keepalived_conf.py render          JSON config on stdin -> keepalived.conf on stdout
  keepalived_conf.py parse FILE      keepalived.conf -> JSON config on stdout

parse reads what is really in the file, so a hand edit shows up as drift. Standard
library only (python3 is on every Debian host; node is not).
"""
import ipaddress
import json
import re
import sys

FIELDS = ("vip", "interface", "routerId", "priority")
INTERFACE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")  # IFNAMSIZ is 16 with the NUL

TEMPLATE = """\
# Rendered by the hostplane role keepalived-vip from its config; hand edits are drift
# and are overwritten by the next configure.
vrrp_instance VI_1 {{
    state MASTER
    interface {interface}
    virtual_router_id {routerId}
    priority {priority}
    advert_int 1
    virtual_ipaddress {{
        {vip}
    }}
}}
"""


def fail(message):
    print("keepalived-vip: " + message, file=sys.stderr)
    sys.exit(1)


def check(config):
    if not isinstance(config, dict):
        fail("config must be a JSON object")
    # Every field is required and no other is allowed: get-config can only report these
    # four, so a default or an extra key would look like drift forever.
    missing = [f for f in FIELDS if f not in config]
    extra = sorted(k for k in config if k not in FIELDS)
    if missing:
        fail("config is missing " + ", ".join(missing))
    if extra:
        fail("config has unknown keys " + ", ".join(extra))
    try:
        if not isinstance(config["vip"], str) or "/" not in config["vip"]:
            raise ValueError(config["vip"])
        ipaddress.ip_interface(config["vip"])
    except ValueError:
        fail('vip must be an address with a prefix, e.g. "10.0.0.100/24"')
    if not isinstance(config["interface"], str) or not INTERFACE.match(config["interface"]):
        fail("interface must be an interface name (1-15 of A-Z a-z 0-9 _ . : -)")
    for key, low, high in (("routerId", 1, 255), ("priority", 1, 255)):
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            fail("%s must be an integer from %d to %d" % (key, low, high))


def render():
    try:
        config = json.load(sys.stdin)
    except ValueError as error:
        fail("config on stdin is not JSON: %s" % error)
    check(config)
    sys.stdout.write(TEMPLATE.format(**config))


def number_or_text(text):
    return int(text) if re.fullmatch(r"[0-9]+", text) else text


def parse(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        print("null")  # nothing configured: differs from any desired config
        return
    found = {}
    stack = []
    for raw in text.splitlines():
        line = re.split(r"[#!]", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[-1] == "{":
            stack.append(words[:-1])
            continue
        if words == ["}"]:
            if stack:
                stack.pop()
            continue
        if len(stack) == 1 and stack[0] == ["vrrp_instance", "VI_1"] and len(words) >= 2:
            if words[0] == "interface":
                found["interface"] = words[1]
            elif words[0] == "virtual_router_id":
                found["routerId"] = number_or_text(words[1])
            elif words[0] == "priority":
                found["priority"] = number_or_text(words[1])
        elif len(stack) == 2 and stack[0] == ["vrrp_instance", "VI_1"] and stack[1] == ["virtual_ipaddress"]:
            found.setdefault("vip", words[0])  # "10.0.0.100/24 dev eth0 label ..." -> the address
    print(json.dumps({key: found[key] for key in FIELDS if key in found}))


def main(argv):
    if len(argv) == 2 and argv[1] == "render":
        render()
    elif len(argv) == 3 and argv[1] == "parse":
        parse(argv[2])
    else:
        fail("usage: keepalived_conf.py render | parse FILE")


if __name__ == "__main__":
    main(sys.argv)
