"""The peer query: a slave asks the peers it reaches whether they still read the master.

`wire` (the signed datagrams and the key), `server` (answers on UDP PEER_PORT),
`client` (asks every reached peer at once under one deadline). The rule that
uses the answers is pure: halizard.core.peers. docs/master-failure.md.
"""
