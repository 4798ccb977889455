# keepalived-vip: the role's JSON config on stdin -> keepalived.conf on stdout.
# POSIX awk (mawk, gawk, busybox): the role needs nothing a minimal host lacks.
#
# Every field is required and no other is allowed: get-config can report only these four,
# so a default or an extra key would look like drift forever. Values are checked before
# anything is written, so nothing a config holds can add lines to keepalived.conf.

BEGIN {
  for (i = 1; i < 32; i++) CONTROL = CONTROL sprintf("%c", i)
  FIELDS = "vip interface routerId priority"
}

{
  text = text $0 "\n"
  if (length(text) > 65536) fail("config is larger than 64 KiB")
}

END {
  if (failed) exit 1
  pos = 1
  parse_value(0)
  skip_ws()
  if (pos <= length(text)) not_json("unexpected '" substr(text, pos, 1) "' after the config at character " pos)
  check()
  printf "# Rendered by the hostplane role keepalived-vip from its config; hand edits are drift\n"
  printf "# and are overwritten by the next configure.\n"
  printf "vrrp_instance VI_1 {\n"
  printf "    state MASTER\n"
  printf "    interface %s\n", VALUE["interface"]
  printf "    virtual_router_id %s\n", VALUE["routerId"]
  printf "    priority %s\n", VALUE["priority"]
  printf "    advert_int 1\n"
  printf "    virtual_ipaddress {\n"
  printf "        %s\n", VALUE["vip"]
  printf "    }\n"
  printf "}\n"
}

function fail(message) {
  print "keepalived-vip: " message > "/dev/stderr"
  failed = 1
  exit 1
}

function not_json(why) {
  fail("config on stdin is not JSON: " why)
}

# --- a strict JSON reader: the whole grammar, members of the top-level object kept ------

function skip_ws(   c) {
  for (;;) {
    c = substr(text, pos, 1)
    if (c != " " && c != "\t" && c != "\n" && c != "\r") return
    pos++
  }
}

# Reads one value at pos; sets VTYPE (string, number, true, false, null, object, array) and VTEXT.
function parse_value(depth,   c) {
  if (depth > 32) not_json("nested too deeply")
  skip_ws()
  c = substr(text, pos, 1)
  if (c == "{") { parse_object(depth); VTYPE = "object"; return }
  if (c == "[") { parse_array(depth); VTYPE = "array"; return }
  if (c == "\"") { VTEXT = parse_string(); VTYPE = "string"; return }
  if (substr(text, pos, 4) == "true") { pos += 4; VTYPE = "true"; return }
  if (substr(text, pos, 5) == "false") { pos += 5; VTYPE = "false"; return }
  if (substr(text, pos, 4) == "null") { pos += 4; VTYPE = "null"; return }
  if (match(substr(text, pos), /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/)) {
    VTEXT = substr(text, pos, RLENGTH)
    pos += RLENGTH
    VTYPE = "number"
    return
  }
  if (c == "") not_json("it ends where a value should be")
  not_json("unexpected '" c "' at character " pos)
}

function parse_object(depth,   key, c) {
  pos++
  skip_ws()
  if (substr(text, pos, 1) == "}") { pos++; return }
  for (;;) {
    skip_ws()
    if (substr(text, pos, 1) != "\"") not_json("a key in double quotes expected at character " pos)
    key = parse_string()
    skip_ws()
    if (substr(text, pos, 1) != ":") not_json("':' expected at character " pos)
    pos++
    parse_value(depth + 1)
    if (depth == 0) {
      if (!(key in TYPE)) KEYS[++nkeys] = key
      TYPE[key] = VTYPE
      VALUE[key] = VTEXT
    }
    skip_ws()
    c = substr(text, pos, 1)
    pos++
    if (c == "}") return
    if (c != ",") not_json("',' or '}' expected at character " (pos - 1))
  }
}

function parse_array(depth,   c) {
  pos++
  skip_ws()
  if (substr(text, pos, 1) == "]") { pos++; return }
  for (;;) {
    parse_value(depth + 1)
    skip_ws()
    c = substr(text, pos, 1)
    pos++
    if (c == "]") return
    if (c != ",") not_json("',' or ']' expected at character " (pos - 1))
  }
}

# Decodes a string at pos (its opening quote); characters beyond ASCII decode to "?", which no
# field takes.
function parse_string(   out, c, hex, code, i) {
  pos++
  out = ""
  for (;;) {
    c = substr(text, pos, 1)
    if (c == "") not_json("a string does not end")
    if (c == "\"") { pos++; return out }
    if (index(CONTROL, c) > 0) not_json("a control character in a string at character " pos)
    if (c != "\\") { out = out c; pos++; continue }
    c = substr(text, pos + 1, 1)
    pos += 2
    if (c == "\"" || c == "\\" || c == "/") out = out c
    else if (c == "b") out = out "\b"
    else if (c == "f") out = out "\f"
    else if (c == "n") out = out "\n"
    else if (c == "r") out = out "\r"
    else if (c == "t") out = out "\t"
    else if (c == "u") {
      hex = tolower(substr(text, pos, 4))
      if (hex !~ /^[0-9a-f][0-9a-f][0-9a-f][0-9a-f]$/) not_json("a bad \\u escape at character " (pos - 2))
      code = 0
      for (i = 1; i <= 4; i++) code = code * 16 + index("0123456789abcdef", substr(hex, i, 1)) - 1
      out = out (code >= 32 && code < 127 ? sprintf("%c", code) : "?")
      pos += 4
    } else not_json("a bad escape at character " (pos - 2))
  }
}

# --- the role's own rules ---------------------------------------------------------------

function check(   i, n, f, missing, extra, key, sorted, j, tmp) {
  if (VTYPE != "object") fail("config must be a JSON object")
  n = split(FIELDS, f, " ")
  missing = ""
  for (i = 1; i <= n; i++) if (!(f[i] in TYPE)) missing = missing (missing == "" ? "" : ", ") f[i]
  if (missing != "") fail("config is missing " missing)
  j = 0
  for (i = 1; i <= nkeys; i++) {
    key = KEYS[i]
    if (key != "vip" && key != "interface" && key != "routerId" && key != "priority") sorted[++j] = key
  }
  if (j > 0) {
    for (i = 2; i <= j; i++) for (n = i; n > 1 && sorted[n] < sorted[n - 1]; n--) { tmp = sorted[n]; sorted[n] = sorted[n - 1]; sorted[n - 1] = tmp }
    extra = sorted[1]
    for (i = 2; i <= j; i++) extra = extra ", " sorted[i]
    fail("config has unknown keys " extra)
  }
  if (TYPE["vip"] != "string" || !valid_vip(VALUE["vip"])) fail("vip must be an address with a prefix, e.g. \"10.0.0.100/24\"")
  # IFNAMSIZ is 16 with the NUL.
  if (TYPE["interface"] != "string" || VALUE["interface"] !~ /^[A-Za-z0-9_.:-]+$/ || length(VALUE["interface"]) > 15) {
    fail("interface must be an interface name (1-15 of A-Z a-z 0-9 _ . : -)")
  }
  check_integer("routerId", 1, 255)
  check_integer("priority", 1, 255)
}

function check_integer(key, low, high) {
  if (TYPE[key] != "number" || VALUE[key] !~ /^-?(0|[1-9][0-9]*)$/ || VALUE[key] + 0 < low || VALUE[key] + 0 > high) {
    fail(sprintf("%s must be an integer from %d to %d", key, low, high))
  }
}

# An IPv4 or IPv6 address, "/", and a prefix length that fits it.
function valid_vip(vip,   slash, address, prefix, max) {
  slash = index(vip, "/")
  if (slash == 0) return 0
  address = substr(vip, 1, slash - 1)
  prefix = substr(vip, slash + 1)
  if (prefix !~ /^[0-9]+$/ || length(prefix) > 3) return 0
  if (valid_ipv4(address)) max = 32
  else if (valid_ipv6(address)) max = 128
  else return 0
  return prefix + 0 <= max
}

function valid_ipv4(address,   parts, i) {
  if (split(address, parts, ".") != 4) return 0
  for (i = 1; i <= 4; i++) if (parts[i] !~ /^(0|[1-9][0-9]?[0-9]?)$/ || parts[i] + 0 > 255) return 0
  return 1
}

# Eight groups of 1-4 hex digits, or fewer around one "::"; the last two may be an IPv4 address.
function valid_ipv6(address,   groups, tail, head, left, right, at) {
  if (address !~ /^[0-9A-Fa-f:.]+$/ || index(address, ":") == 0) return 0
  groups = 0
  head = address
  if (index(address, ".") > 0) {
    tail = address
    sub(/.*:/, "", tail)
    if (!valid_ipv4(tail)) return 0
    head = substr(address, 1, length(address) - length(tail))
    if (head !~ /::$/) head = substr(head, 1, length(head) - 1)
    groups = 2
  }
  at = index(head, "::")
  if (at == 0) return groups + hex_groups(head) == 8 && hex_groups(head) > 0
  left = substr(head, 1, at - 1)
  right = substr(head, at + 2)
  if (index(right, "::") > 0) return 0
  if (left != "" && hex_groups(left) == 0) return 0
  if (right != "" && hex_groups(right) == 0) return 0
  return groups + (left == "" ? 0 : hex_groups(left)) + (right == "" ? 0 : hex_groups(right)) <= 7
}

# How many ":"-separated groups of 1-4 hex digits `text` is; 0 when any is not one.
function hex_groups(text,   parts, n, i) {
  n = split(text, parts, ":")
  for (i = 1; i <= n; i++) if (parts[i] !~ /^[0-9A-Fa-f][0-9A-Fa-f]?[0-9A-Fa-f]?[0-9A-Fa-f]?$/) return 0
  return n
}
