#!/bin/sh
# Starts redis-sentinel with a config rendered from the environment into the private /tmp
# (Sentinel rewrites its own file, and the container's root file system is read-only).
#
#   REDIS_MASTER_HOST             the data node that is master at first (compose: redis-1)
#   REDIS_SENTINEL_PASSWORD       what clients (worker, web) give this Sentinel
#   REDIS_SENTINEL_NODE_PASSWORD  the data nodes' `sentinel` ACL user (redis/entrypoint.sh)
set -eu

for name in REDIS_MASTER_HOST REDIS_SENTINEL_PASSWORD REDIS_SENTINEL_NODE_PASSWORD; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "$name is not set" >&2
    exit 2
  fi
done

umask 077
config="${TMPDIR:-/tmp}/sentinel.conf"
cat >"$config" <<CONF
port 26379
dir ${TMPDIR:-/tmp}
protected-mode no
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
requirepass ${REDIS_SENTINEL_PASSWORD}
sentinel monitor mist ${REDIS_MASTER_HOST} 6379 2
sentinel auth-user mist sentinel
sentinel auth-pass mist ${REDIS_SENTINEL_NODE_PASSWORD}
sentinel down-after-milliseconds mist 5000
sentinel failover-timeout mist 20000
sentinel parallel-syncs mist 1
CONF
exec redis-sentinel "$config"
