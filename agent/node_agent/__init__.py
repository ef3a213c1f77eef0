"""Sample node agent: sees only the Pods on its own node, through KEP-5284 impersonation.

The agent's service account holds no Pod permission. It impersonates its node
(``system:node:$NODE_NAME``, mode ``associated-node``, allowed because its token is bound to
a Pod on that node), and the Node authorizer lets that identity list and watch only Pods
with ``spec.nodeName=<node>``. Entry point: ``cimp-node-agent`` (:mod:`node_agent.__main__`);
the pieces: :mod:`.sync` (list/watch), :mod:`.inventory`, :mod:`.endpoints`, :mod:`.output`.
"""

from constrained_impersonation._version import __version__ as __version__

__all__ = ["__version__"]
