"""Federation (目录管理节点, 部门平台节点): this platform as a lower node of a higher one.

The higher platform's side - taking a node's entries, its digests, its list of nodes - is the
directory's (:mod:`directory.federation`); this package is the lower side's front end: the peer
that pushes and reconciles (:mod:`federation.peer`) and its commands (:mod:`federation.cli`).
It calls the higher platform through the department's client library, as a front-end node does.
"""
