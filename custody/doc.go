// Package custody writes and verifies the chain-of-custody ledger of a case.
//
// A case is a directory of plain files:
//
//	custody.pub                          the public key every record is signed with (PEM, PKIX)
//	records/0000000001.sigstore.json     one Sigstore bundle v0.3 per custody event
//	artifacts/...                        captured evidence metadata, referenced by digest from records
//	checkpoints/0000000007.checkpoint    C2SP tlog-checkpoint over the first 7 records, as a signed note
//	checkpoints/0000000007.checkpoint.sigstore.json   the same checkpoint file signed as a bundle
//	manifests/0000000007.json            every file of the case with its SHA-256, as of record 7
//	manifests/0000000007.json.sigstore.json
//	tsa/chain.pem                        the time-stamping authority's certificates, when one is used
//
// Each record is an in-toto Statement v1 whose payload bytes are RFC 8785 (JCS) JSON, wrapped in a DSSE
// envelope and stored as a Sigstore bundle whose verification material is the key hint (base64 SHA-256 of
// the key's SPKI DER) and, optionally, RFC 3161 time-stamps over the signature. The predicate chains the
// records: seq counts from 1 and prev is the hex SHA-256 of the previous record's exact payload bytes.
// An RFC 6962 Merkle tree over the payload bytes backs the checkpoints, so that cutting the tail or
// rewriting history shows against any checkpoint held elsewhere.
//
// Everything here can be checked without this package: see docs/VERIFYING.md.
package custody
