"""Cryptographic primitives of statenode; the only package that imports `cryptography`.

Modules: `keys` (Ed25519/X25519 keys at rest), `sign` (context-bound Ed25519),
`seal` (RFC 9180 HPKE), `passwords` (Argon2id PHC), `merkle` (RFC 9162 tree, root and
proof generation), `merkle_verify` (RFC 9162 proof verification), `note` (C2SP
signed-note), `checkpoint` (C2SP tlog-checkpoint,
tlog-cosignature v1 and tlog-proof@v1). Errors derive from `crypto.errors.CryptoError`.
"""
