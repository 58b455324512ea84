"""The broker-security part of `make deploy-check` (deploy/check.py calls these).

- Every service may exactly what its code does, and nothing more: write the topics
  `shared.topics.ALLOWED_PRODUCERS` gives it and the dead-letter topics of what it consumes; read what
  its consumers accept (`ServiceSpec.consumes`) and join their groups. Checked on what the broker is
  actually given: the KafkaUsers of each rendered overlay and the Compose script deploy/kafka/access.sh.
- The generated files are up to date (`python -m deploy.gen_acls`).
- Compose: the broker listens with SASL_SSL only (in-container listeners aside), has an authorizer
  that denies what no ACL allows, and every app container connects with SASL_SSL as its own user.
- Kubernetes: the Strimzi listeners are TLS with scram-sha-512, authorization is simple, and each
  service's Deployment uses its own KafkaUser's Secret.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from deploy.gen_acls import password_variable
from shared.access import Acl, Principal, acls, compose_principals, principals
from shared.topics import ALLOWED_PRODUCERS, HOSPITAL, SPEAKS_FOR_HOSPITALS, dlq_topic

Doc = dict[str, Any]
KAFKA_OPERATIONS = frozenset({"Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
                              "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All"})  # fmt: skip
IN_CONTAINER = "127.0.0.1"


# --------------------------------------------------------------------------- what each service needs


def service_needs() -> dict[str, set[Acl]]:
    """{service: the ACLs its code needs}, worked out from the service specs and ALLOWED_PRODUCERS
    (independently of shared/access.py, which renders the manifests)."""
    from shared.services import SERVICES

    needs: dict[str, set[Acl]] = {}
    for spec in SERVICES():
        consumed = {t for c in spec.consumes for t in c.accepted}
        speaks_for = {HOSPITAL} if spec.name in SPEAKS_FOR_HOSPITALS else set()  # the gateway, for each hospital
        writes = {t for t, who in ALLOWED_PRODUCERS.items() if spec.name in who or who & speaks_for}
        writes |= {dlq_topic(t) for t in consumed}
        rules = {Acl("topic", t, op) for t in writes for op in ("Write", "Describe")}
        rules |= {Acl("topic", t, op) for t in consumed for op in ("Read", "Describe")}
        rules |= {Acl("group", c.name, "Read") for c in spec.consumes}
        needs[spec.name] = rules
    return needs


def exact_access_problems(where: str, granted: Mapping[str, set[Acl]], needs: Mapping[str, set[Acl]]) -> list[str]:
    """Each service is granted everything it needs; anything more must be one of the documented extras
    (the notifier's DLQ watcher, the verifier's catch-up check), which shared/access.py names."""
    extras = {p.name: set(acls(p)) for p in principals()}
    problems: list[str] = []
    for service, needed in sorted(needs.items()):
        have = granted.get(service)
        if have is None:
            problems.append(f"{where}: no broker user for service {service}")
            continue
        problems += [f"{where}: {service} may not {_say(a)}, which it needs" for a in sorted(needed - have)]
        allowed_extra = extras.get(service, set()) - needed
        problems += [
            f"{where}: {service} may {_say(a)}, which it does not use" for a in sorted(have - needed - allowed_extra)
        ]
        problems += [f"{where}: {service} lacks {_say(a)} (shared/access.py)" for a in sorted(allowed_extra - have)]
    return problems


def _say(acl: Acl) -> str:
    pattern = " (prefix)" if acl.pattern == "prefix" else ""
    return f"{acl.operation} {acl.resource_type} {acl.name}{pattern}"


def _same_as_table(where: str, granted: Mapping[str, set[Acl]], table: Iterable[Principal]) -> list[str]:
    want = {p.name: set(acls(p)) for p in table}
    problems = [f"{where}: no broker user {n}" for n in sorted(want.keys() - granted.keys())]
    problems += [f"{where}: broker user {n} is not in shared/access.py" for n in sorted(granted.keys() - want.keys())]
    for name in sorted(want.keys() & granted.keys()):
        problems += [f"{where}: {name} may not {_say(a)} (shared/access.py says it may)"
                     for a in sorted(want[name] - granted[name])]  # fmt: skip
        problems += [f"{where}: {name} may {_say(a)}, not in shared/access.py"
                     for a in sorted(granted[name] - want[name])]  # fmt: skip
    return problems


# --------------------------------------------------------------------------- Kubernetes


def kafka_user_acls(docs: Sequence[Doc]) -> dict[str, set[Acl]]:
    """{KafkaUser name: its ACLs} from rendered manifests."""
    found: dict[str, set[Acl]] = {}
    for doc in docs:
        if doc.get("kind") != "KafkaUser":
            continue
        rules: set[Acl] = set()
        for entry in ((doc.get("spec") or {}).get("authorization") or {}).get("acls") or []:
            res: Doc = entry.get("resource") or {}
            ops = entry.get("operations") or ([entry["operation"]] if "operation" in entry else [])
            rules |= {Acl(res["type"], res["name"], op, res.get("patternType", "literal")) for op in ops}
        found[doc["metadata"]["name"]] = rules
    return found


def kafka_user_rule(doc: Doc) -> list[str]:
    """Required fields of a Strimzi KafkaUser."""
    spec, meta = doc.get("spec") or {}, doc.get("metadata") or {}
    problems = [] if (meta.get("labels") or {}).get("strimzi.io/cluster") else ["needs label strimzi.io/cluster"]
    if (spec.get("authentication") or {}).get("type") not in ("scram-sha-512", "tls", "tls-external"):
        problems.append("spec.authentication.type must be scram-sha-512 (or tls)")
    authz = spec.get("authorization") or {}
    if authz.get("type") != "simple":
        problems.append("spec.authorization.type must be simple")
    for entry in authz.get("acls") or []:
        res = entry.get("resource") or {}
        if res.get("type") not in ("topic", "group", "cluster", "transactionalId"):
            problems.append(f"acl resource type {res.get('type')} is not topic, group, cluster or transactionalId")
        if res.get("type") != "cluster" and not res.get("name"):
            problems.append("acl resource needs a name")
        if res.get("patternType", "literal") not in ("literal", "prefix"):
            problems.append(f"acl patternType {res.get('patternType')} is not literal or prefix")
        ops = entry.get("operations") or []
        if not ops or not set(ops) <= KAFKA_OPERATIONS:
            problems.append(f"acl operations {ops} must be a non-empty list of {sorted(KAFKA_OPERATIONS)}")
    return problems


def trigger_authentication_rule(doc: Doc) -> list[str]:
    """Required fields of a KEDA TriggerAuthentication."""
    spec = doc.get("spec") or {}
    problems = []
    for ref in spec.get("secretTargetRef") or []:
        if not all(ref.get(k) for k in ("parameter", "name", "key")):
            problems.append("every secretTargetRef needs parameter, name and key")
    for ref in spec.get("env") or []:
        if not all(ref.get(k) for k in ("parameter", "name")):
            problems.append("every env entry needs parameter and name")
    if not spec.get("secretTargetRef") and not spec.get("env"):
        problems.append("spec needs secretTargetRef or env")
    return problems


def strimzi_security_problems(doc: Doc) -> list[str]:
    """The Kafka cluster: TLS listeners with SCRAM, simple authorization, the User Operator."""
    kafka = (doc.get("spec") or {}).get("kafka") or {}
    problems = []
    for lis in kafka.get("listeners") or []:
        if lis.get("tls") is not True:
            problems.append(f"listener {lis.get('name')} must have tls: true")
        if (lis.get("authentication") or {}).get("type") != "scram-sha-512":
            problems.append(f"listener {lis.get('name')} must authenticate with scram-sha-512")
    if (kafka.get("authorization") or {}).get("type") != "simple":
        problems.append("spec.kafka.authorization.type must be simple (the KafkaUsers' ACLs)")
    if "userOperator" not in ((doc.get("spec") or {}).get("entityOperator") or {}):
        problems.append("spec.entityOperator.userOperator is needed for the KafkaUser resources")
    return problems


def k8s_access_problems(docs: Sequence[Doc], container_env: Any) -> list[str]:
    """KafkaUsers equal the table and give each service exactly what it needs; Deployments use their own."""
    granted = kafka_user_acls(docs)
    problems = _same_as_table("KafkaUsers", granted, principals())
    problems += exact_access_problems("KafkaUsers", granted, service_needs())
    index: dict[str, dict[str, Doc]] = {}
    for d in docs:
        index.setdefault(d.get("kind", ""), {})[(d.get("metadata") or {}).get("name", "")] = d
    for name in service_needs():
        dep = index.get("Deployment", {}).get(name)
        if dep is None:
            continue
        container = dep["spec"]["template"]["spec"]["containers"][0]
        env, _ = container_env(container, index)
        where = f"Deployment/{name}"
        if env.get("KAFKA_SECURITY_PROTOCOL") != "SASL_SSL":
            problems.append(f"{where}: KAFKA_SECURITY_PROTOCOL must be SASL_SSL")
        if env.get("KAFKA_SASL_USERNAME") != name:
            problems.append(f"{where}: KAFKA_SASL_USERNAME must be its own user {name}")
        ref = next((((e.get("valueFrom") or {}).get("secretKeyRef") or {}) for e in container.get("env") or []
                    if e.get("name") == "KAFKA_SASL_PASSWORD"), {})  # fmt: skip
        if ref.get("name") != name or ref.get("key") != "password":
            problems.append(f"{where}: KAFKA_SASL_PASSWORD must come from Secret {name} key password (its KafkaUser)")
        cafile = str(env.get("KAFKA_SSL_CAFILE") or "")
        mounts = [m.get("mountPath", "") for m in container.get("volumeMounts") or []]
        if not cafile or not any(cafile.startswith(m.rstrip("/") + "/") for m in mounts):
            problems.append(f"{where}: KAFKA_SSL_CAFILE {cafile or '(unset)'} is not on a mounted volume")
    return problems


# --------------------------------------------------------------------------- Compose


def compose_script_acls(text: str) -> dict[str, set[Acl]]:
    """{user: ACLs} that deploy/kafka/access.sh creates, read back from its kafka-configs/kafka-acls lines."""
    users: dict[str, set[Acl]] = {}
    for line in text.splitlines():
        if "kafka-configs.sh" in line and "--entity-name" in line:
            words = shlex.split(line)
            users.setdefault(words[words.index("--entity-name") + 1], set())
        elif "kafka-acls.sh" in line and "--add" in line:
            words = shlex.split(line.split(">", 1)[0])
            principal = words[words.index("--allow-principal") + 1].removeprefix("User:")
            pattern = {"prefixed": "prefix"}.get(words[words.index("--resource-pattern-type") + 1], "literal")
            ops = [words[i + 1] for i, w in enumerate(words) if w == "--operation"]
            targets = [(w[2:], words[i + 1]) for i, w in enumerate(words) if w in ("--topic", "--group")]
            found: list[Any] = [(kind, name, op, pattern) for kind, name in targets for op in ops]  # words, unchecked
            users.setdefault(principal, set()).update(Acl(*rule) for rule in found)
    return users


def compose_access_problems(services: Mapping[str, Doc], script: str, app_services: Iterable[str]) -> list[str]:
    """The Compose broker only takes authenticated TLS clients with ACLs; each app container is its own user."""
    granted = compose_script_acls(script)
    problems = _same_as_table("deploy/kafka/access.sh", granted, [*principals(), *compose_principals()])
    problems += exact_access_problems("deploy/kafka/access.sh", granted, service_needs())
    kafka = services.get("kafka") or {}
    env = {k: str(v) for k, v in (kafka.get("environment") or {}).items()}
    protocols = dict(p.split(":", 1) for p in env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(",") if p)
    for listener in filter(None, env.get("KAFKA_LISTENERS", "").split(",")):
        name, address = listener.split("://", 1)
        if not address.startswith(IN_CONTAINER + ":") and protocols.get(name) != "SASL_SSL":
            problems.append(
                f"compose kafka: listener {name} ({address}) must be SASL_SSL (only 127.0.0.1 may be other)"
            )
    if env.get("KAFKA_AUTHORIZER_CLASS_NAME", "").rsplit(".", 1)[-1] != "StandardAuthorizer":
        problems.append("compose kafka: KAFKA_AUTHORIZER_CLASS_NAME must be the StandardAuthorizer (ACLs)")
    if env.get("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND") != "false":
        problems.append("compose kafka: KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND must be false")
    users = set(granted)
    passwords: dict[str, str] = {}
    for name in app_services:
        app_env = {k: str(v) for k, v in (services[name].get("environment") or {}).items()}
        if app_env.get("KAFKA_SECURITY_PROTOCOL") != "SASL_SSL":
            problems.append(f"compose service {name}: KAFKA_SECURITY_PROTOCOL must be SASL_SSL")
        user = app_env.get("KAFKA_SASL_USERNAME")
        if name in service_needs() and user != name:
            problems.append(f"compose service {name}: KAFKA_SASL_USERNAME must be its own user {name}")
        elif user and user not in users:
            problems.append(f"compose service {name}: KAFKA_SASL_USERNAME {user} is no broker user")
        if not user:
            continue
        password = app_env.get("KAFKA_SASL_PASSWORD", "")
        owner = passwords.setdefault(password, user)
        if owner != user:
            problems.append(f"compose service {name}: shares its broker password with {owner}")
        if env.get(password_variable(user)) != password:
            problems.append(f"compose service {name}: its password is not kafka's {password_variable(user)}")
    return problems
