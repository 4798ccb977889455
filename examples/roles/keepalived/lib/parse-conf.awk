# keepalived-vip: keepalived.conf -> the role's JSON config on stdout, from what the file
# really holds, so that a hand edit shows up as drift. POSIX awk (mawk, gawk, busybox).

{
  line = $0
  gsub(/\r/, "", line)
  if (match(line, /[#!]/)) line = substr(line, 1, RSTART - 1)
  n = split(line, words)
  if (n == 0) next
  if (words[n] == "{") {
    block = ""
    for (i = 1; i < n; i++) block = block (i > 1 ? " " : "") words[i]
    stack[++depth] = block
    next
  }
  if (n == 1 && words[1] == "}") {
    if (depth > 0) depth--
    next
  }
  if (depth == 1 && stack[1] == "vrrp_instance VI_1" && n >= 2) {
    if (words[1] == "interface") found["interface"] = quoted(words[2])
    else if (words[1] == "virtual_router_id") found["routerId"] = number_or_text(words[2])
    else if (words[1] == "priority") found["priority"] = number_or_text(words[2])
  } else if (depth == 2 && stack[1] == "vrrp_instance VI_1" && stack[2] == "virtual_ipaddress") {
    # "10.0.0.100/24 dev eth0 label ..." -> the address; the first one counts.
    if (!("vip" in found)) found["vip"] = quoted(words[1])
  }
}

END {
  out = ""
  n = split("vip interface routerId priority", fields, " ")
  for (i = 1; i <= n; i++) if (fields[i] in found) out = out (out == "" ? "" : ", ") "\"" fields[i] "\": " found[fields[i]]
  print "{" out "}"
}

# Digits are a number (as JSON writes it: no leading zeros), anything else a string.
function number_or_text(word) {
  if (word !~ /^[0-9]+$/) return quoted(word)
  sub(/^0+/, "", word)
  return word == "" ? "0" : word
}

# A JSON string: backslash, quote and control characters escaped.
function quoted(text,   out, i, c, code) {
  if (!built) {
    for (code = 1; code < 32; code++) CONTROL[sprintf("%c", code)] = sprintf("\\u%04x", code)
    CONTROL["\\"] = "\\\\"
    CONTROL["\""] = "\\\""
    built = 1
  }
  out = ""
  for (i = 1; i <= length(text); i++) {
    c = substr(text, i, 1)
    out = out (c in CONTROL ? CONTROL[c] : c)
  }
  return "\"" out "\""
}
