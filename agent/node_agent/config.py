"""Command line and environment of ``cimp-node-agent``.

Every option has an environment variable (flags win), so a DaemonSet can configure the agent
with ``env:`` alone; the SDK's own ``CIMP_*`` settings (timeouts, retries, backoff, token
refresh) are read by :class:`constrained_impersonation.settings.Settings` and listed in
``--help`` from that class, so the help cannot drift from what is read.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .endpoints import parse_listen
from .projection import DEFAULT_MAX_LABEL_BYTES, MAX_LABEL_BYTES_LIMIT, LabelPolicy

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_OUTPUT",
    "DEFAULT_WATCH_IDLE_TIMEOUT",
    "AgentConfig",
    "build_parser",
    "parse_args",
]

DEFAULT_LISTEN = "127.0.0.1:9102"
DEFAULT_OUTPUT = "/run/cimp/pods.json"
DEFAULT_WATCH_IDLE_TIMEOUT = 150.0
LOG_LEVELS = ("debug", "info", "warning", "error")

DESCRIPTION = """\
Keep a live inventory of the Pods on this node, seen through constrained impersonation of
the node itself (KEP-5284 mode associated-node): the agent's service account holds no Pod
permission; it impersonates system:node:$NODE_NAME, and the Node authorizer lets that
identity list and watch only Pods bound to this node.

Publishes the inventory at GET /pods ({"node", "resourceVersion", "pods": [...]}) and as a
file replaced atomically (--output), with /healthz, /readyz (200 after the first complete
list) and /metrics (Prometheus text). Logs are JSON lines on stderr. SIGTERM or SIGINT stops
the watch, writes the file a last time and exits 0."""


@dataclass(frozen=True)
class AgentConfig:
    """Validated options (after flags, environment and defaults were combined)."""

    node: str | None
    kubeconfig: str | None
    context: str | None
    listen: tuple[str, int]
    metrics_listen: tuple[str, int] | None
    output: Path | None
    watch_timeout: float
    watch_idle_timeout: float
    log_level: str
    labels: LabelPolicy = field(default_factory=LabelPolicy)


def _sdk_settings_help() -> str:
    """One line per SDK setting, read from the Settings model itself."""
    from constrained_impersonation.settings import Settings

    lines = []
    for name, info in Settings.model_fields.items():
        if name == "node_name":
            continue
        variable = "CIMP_" + name.upper()
        default = info.get_default()
        lines.append(f"  {variable:<31} {info.description or ''} (default: {default})")
    return "\n".join(lines)


def _epilog() -> str:
    return f"""\
environment:
  NODE_NAME                       this node (downward API spec.nodeName); same as --node
  KUBECONFIG                      kubeconfig to use when --kubeconfig is not given
  KUBERNETES_SERVICE_HOST/_PORT   in-cluster API server (set by the kubelet)
  CIMP_AGENT_LISTEN               same as --listen
  CIMP_AGENT_METRICS_LISTEN       same as --metrics-listen
  CIMP_AGENT_OUTPUT               same as --output
  CIMP_AGENT_WATCH_TIMEOUT        same as --watch-timeout
  CIMP_AGENT_WATCH_IDLE_TIMEOUT   same as --watch-idle-timeout
  CIMP_AGENT_MAX_LABEL_BYTES      same as --max-label-bytes
  CIMP_AGENT_LABEL_KEYS           same as --label-key, comma-separated
  CIMP_AGENT_LOG_LEVEL            same as --log-level

SDK settings (constrained_impersonation.Settings), read from the environment:
{_sdk_settings_help()}
  The list request uses CIMP_CONNECT_TIMEOUT/CIMP_REQUEST_TIMEOUT and CIMP_RETRY_*; the
  watch reconnects with full-jitter exponential backoff from CIMP_RETRY_BACKOFF_BASE up to
  CIMP_RETRY_BACKOFF_MAX seconds, and relists after 410 Gone. A watch that receives neither
  an event nor a bookmark within --watch-idle-timeout is presumed stalled and re-opened
  from the last resourceVersion (cimp_agent_watch_restarts_total{{reason="idle"}}).

labels (--max-label-bytes, --label-key):
  Kubernetes bounds each label but not how many a Pod has, so whoever may create Pods on
  this node could give each ~1 MiB of labels (110 such Pods cost an unbounded agent 370 MB).
  Per Pod the agent keeps, from the keys allowed by --label-key (default: all), labels in
  key order while their JSON ("key":"value",) adds up to at most --max-label-bytes (default
  {DEFAULT_MAX_LABEL_BYTES}; ordinary Pods carry well under 2 KiB): each Pod's "labels" in /pods
  and in the file is at most that many bytes plus 2. A Pod whose labels were cut carries
  "labelsOmitted": <how many> (match nothing on its labels: they are incomplete) and is
  counted by cimp_agent_pods_labels_omitted. A relist holds one list page of full Pods at
  a time: the first asks for 4 Pods, each next one for as many as fit 4 MiB at the largest
  average Pod size seen so far in that list (at most 500).

credentials, in this order:
  1. --kubeconfig PATH (or $KUBECONFIG): the kubeconfig's user is the requestor; it needs
     the RBAC of deploy/daemonset/ and, for mode associated-node, a service-account token
     bound to a pod on NODE_NAME (otherwise the server tries arbitrary-node).
  2. in-cluster: the pod's projected service-account token (re-read when rotated) and CA.

exit status: 0 after SIGTERM/SIGINT, 2 for invalid configuration, 1 for other failures."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cimp-node-agent",
        description=DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--node",
        metavar="NAME",
        help="node whose Pods to mirror (default: $NODE_NAME, the downward API spec.nodeName)",
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="use this kubeconfig instead of in-cluster credentials (default: $KUBECONFIG "
        "if set, else in-cluster)",
    )
    parser.add_argument(
        "--context", metavar="NAME", help="kubeconfig context (default: its current-context)"
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help=f"serve /pods, /healthz, /readyz, /metrics here (default: {DEFAULT_LISTEN}; "
        "$CIMP_AGENT_LISTEN). Keep it on localhost: /pods is this node's inventory",
    )
    parser.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="also serve /metrics, /healthz and /readyz (never /pods) here, e.g. "
        "0.0.0.0:9103 for Prometheus (default: off; $CIMP_AGENT_METRICS_LISTEN)",
    )
    parser.add_argument(
        "--output",
        metavar="PATH",
        help=f"write the inventory JSON here, replaced atomically, mode 0644 (default: "
        f"{DEFAULT_OUTPUT}; $CIMP_AGENT_OUTPUT); an empty value disables the file",
    )
    parser.add_argument(
        "--watch-timeout",
        metavar="SECONDS",
        type=float,
        help="server-side timeout of each watch; each watch uses 1x-2x this, jittered "
        "(default: 300; $CIMP_AGENT_WATCH_TIMEOUT)",
    )
    parser.add_argument(
        "--watch-idle-timeout",
        metavar="SECONDS",
        type=float,
        help="re-open a watch that delivered no event and no bookmark for this long: the "
        "connection has stalled (kube sends a bookmark about once a minute). 0 disables "
        f"(default: {DEFAULT_WATCH_IDLE_TIMEOUT:g}; $CIMP_AGENT_WATCH_IDLE_TIMEOUT)",
    )
    parser.add_argument(
        "--max-label-bytes",
        metavar="BYTES",
        type=int,
        help="keep at most this many bytes of labels per Pod (their JSON), in key order; "
        f"0 keeps none (default: {DEFAULT_MAX_LABEL_BYTES}, at most {MAX_LABEL_BYTES_LIMIT}; "
        "$CIMP_AGENT_MAX_LABEL_BYTES). Cut Pods carry labelsOmitted",
    )
    parser.add_argument(
        "--label-key",
        metavar="KEY",
        action="append",
        default=None,
        help="keep only this label key; 'prefix*' keeps every key with that prefix, e.g. "
        "app.kubernetes.io/* (repeatable; default: every key; $CIMP_AGENT_LABEL_KEYS)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="log verbosity (default: info; $CIMP_AGENT_LOG_LEVEL)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> AgentConfig:
    """Combine flags, environment and defaults; exits 2 with one line on invalid values."""
    env = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)

    def pick(flag: object, variable: str, default: str) -> str:
        if flag is not None:
            return str(flag)
        return env.get(variable, default)

    try:
        listen = parse_listen(pick(args.listen, "CIMP_AGENT_LISTEN", DEFAULT_LISTEN))
    except ValueError as exc:
        parser.error(f"--listen: {exc}")
    metrics_value = pick(args.metrics_listen, "CIMP_AGENT_METRICS_LISTEN", "")
    try:
        metrics_listen = parse_listen(metrics_value) if metrics_value else None
    except ValueError as exc:
        parser.error(f"--metrics-listen: {exc}")
    output_value = pick(args.output, "CIMP_AGENT_OUTPUT", DEFAULT_OUTPUT)
    try:
        watch_timeout = float(pick(args.watch_timeout, "CIMP_AGENT_WATCH_TIMEOUT", "300"))
    except ValueError:
        parser.error("--watch-timeout / CIMP_AGENT_WATCH_TIMEOUT must be a number of seconds")
    if not 1 <= watch_timeout <= 3600:
        parser.error(f"--watch-timeout must be between 1 and 3600 seconds, got {watch_timeout}")
    idle_value = pick(
        args.watch_idle_timeout, "CIMP_AGENT_WATCH_IDLE_TIMEOUT", str(DEFAULT_WATCH_IDLE_TIMEOUT)
    )
    try:
        watch_idle_timeout = float(idle_value)
    except ValueError:
        parser.error(
            "--watch-idle-timeout / CIMP_AGENT_WATCH_IDLE_TIMEOUT must be a number of seconds"
        )
    if watch_idle_timeout != 0 and not 1 <= watch_idle_timeout <= 3600:
        parser.error(
            "--watch-idle-timeout must be 0 (off) or between 1 and 3600 seconds, "
            f"got {watch_idle_timeout}"
        )
    log_level = pick(args.log_level, "CIMP_AGENT_LOG_LEVEL", "info").lower()
    if log_level not in LOG_LEVELS:
        parser.error(f"CIMP_AGENT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    max_label_value = pick(
        args.max_label_bytes, "CIMP_AGENT_MAX_LABEL_BYTES", str(DEFAULT_MAX_LABEL_BYTES)
    )
    if args.label_key is not None:
        label_keys = list(args.label_key)
    else:
        label_keys = [k.strip() for k in env.get("CIMP_AGENT_LABEL_KEYS", "").split(",")]
        label_keys = [k for k in label_keys if k]
    try:
        labels = LabelPolicy.of(int(max_label_value), label_keys)
    except ValueError as exc:
        if not max_label_value.strip().isdigit():
            parser.error("--max-label-bytes / CIMP_AGENT_MAX_LABEL_BYTES must be a number of bytes")
        parser.error(f"--max-label-bytes / --label-key: {exc}")
    kubeconfig = args.kubeconfig if args.kubeconfig is not None else env.get("KUBECONFIG")
    return AgentConfig(
        node=args.node or env.get("NODE_NAME") or env.get("CIMP_NODE_NAME") or None,
        kubeconfig=kubeconfig or None,
        context=args.context,
        listen=listen,
        metrics_listen=metrics_listen,
        output=Path(output_value) if output_value else None,
        watch_timeout=watch_timeout,
        watch_idle_timeout=watch_idle_timeout,
        log_level=log_level,
        labels=labels,
    )
