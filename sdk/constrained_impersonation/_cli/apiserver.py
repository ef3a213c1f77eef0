"""``cimp apiserver``: run the embedded API server in the foreground until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "apiserver",
        help="run the embedded Kubernetes API server (HTTPS, RBAC, impersonation, audit)",
        description=(
            "Serve a local kube-apiserver look-alike over HTTPS with its own CA. Prints the "
            "URL when ready; stops cleanly on Ctrl-C or SIGTERM."
        ),
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1:6443",
        metavar="HOST:PORT",
        help="address to serve on (default 127.0.0.1:6443; port 0 picks a free one)",
    )
    parser.add_argument(
        "--kubeconfig-out",
        type=Path,
        metavar="PATH",
        help="write an admin kubeconfig (system:masters) to PATH (mode 0600, replaced atomically)",
    )
    parser.add_argument(
        "--feature-gates",
        default=None,
        metavar="GATES",
        help="e.g. ConstrainedImpersonation=false (default: true, as from Kubernetes 1.36)",
    )
    parser.add_argument(
        "--token-auth-file",
        type=Path,
        metavar="CSV",
        help='static bearer tokens, kube format: token,user,uid,"group1,group2"',
    )
    parser.add_argument(
        "--audit-log-path",
        type=Path,
        metavar="PATH",
        help="append audit.k8s.io/v1 events (level Metadata) as JSON lines",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=(
            "keep objects (SQLite), certificates and tokens here across restarts; created 0700 "
            "(an existing DIR that group or others can access is refused), files 0600"
        ),
    )
    parser.set_defaults(run=run)


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:6443")
    return host.strip("[]"), int(port)


def run(args: argparse.Namespace) -> int:
    from .._private_files import private_dir
    from .._testing_extra import TestingExtraMissing

    try:
        from ..testing import APIServer
    except TestingExtraMissing as exc:
        raise ValueError(str(exc)) from None

    host, port = _listen(args.listen)
    if args.token_auth_file is not None and not args.token_auth_file.is_file():
        raise ValueError(f"--token-auth-file {str(args.token_auth_file)!r}: no such file")
    if args.data_dir is not None:
        try:
            private_dir(args.data_dir)
        except OSError as exc:
            raise OSError(f"--data-dir: {exc}") from None
    server = APIServer(
        feature_gates=args.feature_gates,
        data_dir=args.data_dir,
        audit_log_path=args.audit_log_path,
        port=port,
        host=host,
        token_auth_file=args.token_auth_file,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server.start()
    except BaseException as exc:
        server.close()  # a failed start leaves no directory (its PKI) behind
        if isinstance(exc, OSError):
            raise OSError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
        raise
    try:
        if args.kubeconfig_out is not None:
            server.kubeconfig(path=args.kubeconfig_out)
        gates = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(server.feature_gates.items()))
        print(f"serving on {server.url}", flush=True)
        print(f"  ca: {server.ca_file}", flush=True)
        if args.kubeconfig_out is not None:
            print(f"  kubeconfig: {args.kubeconfig_out}", flush=True)
        print(f"  feature gates: {gates}", flush=True)
        stop.wait()
    finally:
        server.close()
    print("stopped", file=sys.stderr, flush=True)
    return 0
