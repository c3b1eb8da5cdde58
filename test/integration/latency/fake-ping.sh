#!/bin/sh
# A stand-in for ping (NETMON_PING=this file) that sends nothing: it replays a capture, so the
# parser and the session are tested end to end on variants this machine's ping cannot produce.
#   FAKE_PING_ARGS            file to append the argument list to (one line per call)
#   FAKE_PING_PREFLIGHT_ERR   text for stderr + exit 2 on netmon's loopback check (-c 1 … 127.0.0.1)
#   FAKE_PING_OUT             file whose content is printed for a probe run
#   FAKE_PING_EXIT            exit status of a probe run (default 0)
[ -n "$FAKE_PING_ARGS" ] && echo "$*" >> "$FAKE_PING_ARGS"
last=""
for a in "$@"; do last="$a"; done
case " $* " in
  *" -c 1 "*)
    if [ "$last" = "127.0.0.1" ]; then
      if [ -n "$FAKE_PING_PREFLIGHT_ERR" ]; then echo "$FAKE_PING_PREFLIGHT_ERR" >&2; exit 2; fi
      echo "PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data."
      echo "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.010 ms"
      exit 0
    fi
    ;;
esac
cat "$FAKE_PING_OUT"
exit "${FAKE_PING_EXIT:-0}"
