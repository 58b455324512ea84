#!/bin/bash
# The Compose kafka container's command: start the broker (the image's own start script), then,
# once it answers on the in-container listener, create the SCRAM users and ACLs of
# shared/access.py (deploy/kafka/access.sh, generated) and mark the broker ready for the health
# check. The in-container listener (127.0.0.1:9091, PLAINTEXT, super user) is reachable only from
# inside this container; every other client must come through SASL_SSL (9092, host port 9094).
set -euo pipefail
READY=/tmp/jkn-kafka-access-ready
rm -f "$READY"
/etc/kafka/docker/run &
broker=$!
trap 'kill -TERM "$broker" 2>/dev/null; wait "$broker"' TERM INT
until /opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server 127.0.0.1:9091 >/dev/null 2>&1; do
  kill -0 "$broker" 2>/dev/null || { echo "kafka exited before it answered" >&2; exit 1; }
  sleep 2
done
/bin/bash /opt/jkn/kafka/access.sh 127.0.0.1:9091
touch "$READY"
echo "kafka access: every user and ACL applied"
wait "$broker"
