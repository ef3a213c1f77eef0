"""KubeVirt as a cluster has it: a CRD for VMIs, an aggregated API for their console.

* :mod:`.standin`: virt-api's ``subresources.kubevirt.io/v1`` (discovery, the console), the
  same code inside the embedded server and beside a real kube-apiserver;
* :mod:`.server`: the stand-in as an extension API server over HTTPS (front proxy only);
* :mod:`.frontproxy`: the front proxy's PKI and request-header authentication;
* :mod:`.aggregator`: the embedded server's side of API aggregation (``APIService`` objects
  with a service, their availability, the proxy step after authorization).
"""

from __future__ import annotations

from .frontproxy import FrontProxyPKI, RequestHeaderAuth, create_front_proxy
from .standin import CONSOLE_SUBPROTOCOL, KubeVirtStandIn, greeting

__all__ = [
    "CONSOLE_SUBPROTOCOL",
    "FrontProxyPKI",
    "KubeVirtStandIn",
    "RequestHeaderAuth",
    "create_front_proxy",
    "greeting",
]
