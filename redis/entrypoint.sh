#!/bin/sh
# Starts redis-server with two ACL users rendered from the environment, then execs the
# command it was given (compose: `redis-server --appendonly yes --save "300 1"`).
#
#   worker  reads and writes mist:* keys (no admin commands)
#   web     may only read mist:* keys
#   default no password, may only PING (the container healthcheck), touches no key
#   replica  (only with REDIS_REPLICA_PASSWORD) what a replica needs to sync from its master
#   sentinel (only with REDIS_SENTINEL_NODE_PASSWORD) what Sentinel needs to watch and fail over
#
# docker-compose.ha.yml gives every data node the same users, so a promoted replica serves
# each tier exactly as the old master did.
# The ACL file goes to a private temp file (tmpfs /tmp in compose), never to the data volume.
set -eu

optional=""
[ -n "${REDIS_REPLICA_PASSWORD:-}" ] && optional="$optional REDIS_REPLICA_PASSWORD"
[ -n "${REDIS_SENTINEL_NODE_PASSWORD:-}" ] && optional="$optional REDIS_SENTINEL_NODE_PASSWORD"
for name in REDIS_WORKER_PASSWORD REDIS_WEB_PASSWORD $optional; do
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
user web on >${REDIS_WEB_PASSWORD} resetkeys %R~mist:* resetchannels -@all +@connection +@read +@transaction -@dangerous +eval_ro
ACL
if [ -n "${REDIS_REPLICA_PASSWORD:-}" ]; then
  echo "user replica on >${REDIS_REPLICA_PASSWORD} resetkeys resetchannels -@all +psync +replconf +ping" >>"$acl_file"
fi
if [ -n "${REDIS_SENTINEL_NODE_PASSWORD:-}" ]; then
  echo "user sentinel on >${REDIS_SENTINEL_NODE_PASSWORD} resetkeys allchannels -@all +multi +slaveof +replicaof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill" >>"$acl_file"
fi

if [ "$#" -eq 0 ]; then
  set -- redis-server
fi
exec "$@" --aclfile "$acl_file"
