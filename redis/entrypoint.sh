#!/bin/sh
# Starts redis-server with two ACL users rendered from the environment, then execs the
# command it was given (compose: `redis-server --appendonly yes --save "300 1"`).
#
#   worker  reads and writes mist:* keys (no admin commands)
#   web     may only read mist:* keys
#   default no password, may only PING (the container healthcheck), touches no key
#
# The ACL file goes to a private temp file (tmpfs /tmp in compose), never to the data volume.
set -eu

for name in REDIS_WORKER_PASSWORD REDIS_WEB_PASSWORD; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "$name is not set: put a long random value in .env (e.g. openssl rand -hex 24)" >&2
    exit 2
  fi
  case "$value" in
    *[!A-Za-z0-9._~-]*)
      echo "$name may only use letters, digits and . _ ~ - (it goes into REDIS_URL)" >&2
      exit 2
      ;;
  esac
done

umask 077
acl_file="${REDIS_ACL_FILE:-${TMPDIR:-/tmp}/mist-users.acl}"
cat >"$acl_file" <<ACL
user default on nopass resetkeys resetchannels -@all +ping
user worker on >${REDIS_WORKER_PASSWORD} resetkeys ~mist:* resetchannels +@all -@dangerous
user web on >${REDIS_WEB_PASSWORD} resetkeys %R~mist:* resetchannels -@all +@connection +@read +@transaction -@dangerous
ACL

if [ "$#" -eq 0 ]; then
  set -- redis-server
fi
exec "$@" --aclfile "$acl_file"
