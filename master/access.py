"""Who may see what: the operator role a certificate from this master's CA grants, and whether a role
covers a node. One policy under both front ends, the gRPC service and the dashboard, so that a viewer
limited to some groups sees the same nodes through either."""

from __future__ import annotations

import logging

from cryptography import x509

from wire import pki
from wire.pki import OperatorRole

log = logging.getLogger(__name__)

#: Reading (nodes, facts, catalogs, reports, rollouts) takes at least this role.
READ_ROLE = "viewer"
#: Pushing application artifacts (``bunraku artifact push``) takes this role (a CI job's), or operator or admin.
PUBLISH_ROLE = "publisher"
#: What a certificate whose role extension cannot be read grants: the least there is (no group at all).
UNREADABLE_ROLE = OperatorRole("viewer", frozenset())


def certificate_role(cert: x509.Certificate) -> OperatorRole | None:
    """The role ``cert`` grants its holder: None for a node's certificate (no pp_cli_auth set by the CA),
    admin of every group for pp_cli_auth without a role extension (operators issued before roles),
    else the role extension's, limited to its groups. The CA sets both extensions and never copies them
    from a request, so they are as trustworthy as the CA's signature (checked by the TLS layer)."""
    extensions = pki.puppet_extensions(cert.extensions)
    if extensions.get("pp_cli_auth") != "true":
        return None
    text = extensions.get(pki.ROLE_EXT)
    if text is None:
        return OperatorRole("admin")
    try:
        return pki.parse_role(text)
    except pki.PkiError:
        log.warning("unreadable operator role %r on the certificate of serial %d; treating it as a viewer "
                    "of no group", text, cert.serial_number)
        return UNREADABLE_ROLE


def may_read(role: OperatorRole, group: str | None) -> bool:
    """Whether ``role`` may read a node of ``group`` (None: a node in no group, seen only by a role that
    covers every group), or a rollout of ``group`` (None: a rollout over the whole fleet)."""
    return role.allows(READ_ROLE) and role.covers(group)


def may_see_artifacts(role: OperatorRole) -> bool:
    """Whether ``role`` may list and show artifacts: readers of the fleet, and publishers (CI checks what it
    pushed)."""
    return role.allows(READ_ROLE) or role.allows(PUBLISH_ROLE)
