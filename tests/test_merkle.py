"""The Merkle tree and the checkpoint notes against published test vectors.

Tree vectors: the RFC 6962 / RFC 9162 test data of transparency-dev/merkle (the Go library behind
Trillian and the Go checksum database): `testonly/constants.go` (LeafInputs, NodeHashes,
RootHashes) and `proof/verify_test.go` (inclusionProofs, consistencyProofs; leaf numbers there
are 1-based). Note vectors: golang.org/x/mod/sumdb/note (the PeterNeumann example of its package
documentation and note_test.go).
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hashing import keys, merkle, note
from hashing.errors import BadCheckpoint, BadProof, BadSignature

LEAF_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
NODE_HASHES = [  # testonly.NodeHashes(): [level][index]
    ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"],
    ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"],
    ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
ROOT_HASHES = [  # testonly.RootHashes(): by tree size, from the empty tree
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # proof.inclusionProofs: (leaf, 1-based), tree size, proof
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # proof.consistencyProofs: size1, size2, proof
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


def _h(x: str) -> bytes:
    return bytes.fromhex(x)


def _stored(leaves: list[bytes]) -> dict[merkle.Node, bytes]:
    """Every complete subtree, as the log stores them while it grows."""
    f, nodes = merkle.Frontier(), {}
    for data in leaves:
        nodes.update(f.append(merkle.leaf_hash(data)))
    return nodes


def test_leaf_hashes_and_every_complete_subtree_match_the_published_node_hashes():
    nodes = _stored(LEAF_INPUTS)
    for level, row in enumerate(NODE_HASHES):
        for idx, want in enumerate(row):
            assert nodes[(level, idx)].hex() == want, (level, idx)
    assert len(nodes) == sum(len(r) for r in NODE_HASHES)


@pytest.mark.parametrize("size", range(9))
def test_root_of_every_prefix_matches_the_published_root(size):
    assert merkle.root_of([merkle.leaf_hash(x) for x in LEAF_INPUTS[:size]]).hex() == ROOT_HASHES[size]
    nodes = _stored(LEAF_INPUTS)
    if size:
        assert merkle.range_hash(0, size, nodes).hex() == ROOT_HASHES[size]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_are_built_and_checked_as_published(leaf, size, proof):
    nodes = _stored(LEAF_INPUTS)
    built = merkle.build(merkle.inclusion_ranges(leaf - 1, size), nodes)
    assert [h.hex() for h in built] == proof
    leaf_h, root = merkle.leaf_hash(LEAF_INPUTS[leaf - 1]), _h(ROOT_HASHES[size])
    merkle.verify_inclusion(leaf - 1, size, leaf_h, [_h(p) for p in proof], root)
    # the corruptions of transparency-dev/merkle's verifierCheck are all refused
    bad = [(leaf - 2, size, leaf_h, proof, root), (leaf, size, leaf_h, proof, root),
           ((leaf - 1) ^ 2, size, leaf_h, proof, root), (leaf - 1, size * 2, leaf_h, proof, root),
           (leaf - 1, size // 2, leaf_h, proof, root), (leaf - 1, size, b"WrongLeaf", proof, root),
           (leaf - 1, size, leaf_h, proof, _h(ROOT_HASHES[0])), (leaf - 1, size, leaf_h, [*proof, ROOT_HASHES[size]], root),
           (leaf - 1, size, leaf_h, [ROOT_HASHES[size], *proof], root), (leaf - 1, size, leaf_h, proof[:-1], root)]
    for i in range(len(proof)):
        flipped = [bytearray(_h(p)) for p in proof]
        flipped[i][0] ^= 8
        bad.append((leaf - 1, size, leaf_h, [bytes(b).hex() for b in flipped], root))
    for index, n, lh, pr, r in bad:
        with pytest.raises(BadProof):
            merkle.verify_inclusion(index, n, lh, [_h(p) for p in pr], r)


@pytest.mark.parametrize(("m", "n", "proof"), CONSISTENCY)
def test_consistency_proofs_are_built_and_checked_as_published(m, n, proof):
    nodes = _stored(LEAF_INPUTS)
    assert [h.hex() for h in merkle.build(merkle.consistency_ranges(m, n), nodes)] == proof
    r1, r2, pr = _h(ROOT_HASHES[m]), _h(ROOT_HASHES[n]), [_h(p) for p in proof]
    merkle.verify_consistency(m, n, r1, r2, pr)
    bad = [(m - 1, n, r1, r2, pr), (m + 1, n, r1, r2, pr), (m ^ 2, n, r1, r2, pr), (m, n * 2, r1, r2, pr),
           (m, n // 2, r1, r2, pr), (m, n, b"WrongRoot", r2, pr), (m, n, r1, b"WrongRoot", pr), (m, n, r2, r1, pr),
           (m, n, r1, r2, []), (m, n, r1, r2, [*pr, r1]), (m, n, r1, r2, [r2, *pr]), (m, n, r1, r2, [pr[0], *pr]),
           (m, n, r1, r2, pr[:-1])]
    for i in range(len(pr)):
        flipped = [bytearray(p) for p in pr]
        flipped[i][0] ^= 16
        bad.append((m, n, r1, r2, [bytes(b) for b in flipped]))
    for a, b, x, y, p in bad:
        with pytest.raises(BadProof):
            merkle.verify_consistency(a, b, x, y, p)


def test_every_proof_in_trees_up_to_40_leaves_checks_and_a_changed_leaf_does_not():
    leaves = [f"event {i}".encode() for i in range(40)]
    nodes = _stored(leaves)
    for n in range(1, 41):
        root = merkle.root_of([merkle.leaf_hash(x) for x in leaves[:n]])
        for i in range(n):
            proof = merkle.build(merkle.inclusion_ranges(i, n), nodes)
            merkle.verify_inclusion(i, n, merkle.leaf_hash(leaves[i]), proof, root)
            with pytest.raises(BadProof):
                merkle.verify_inclusion(i, n, merkle.leaf_hash(b"forged"), proof, root)
        for m in range(1, n + 1):
            old = merkle.root_of([merkle.leaf_hash(x) for x in leaves[:m]])
            merkle.verify_consistency(m, n, old, root, merkle.build(merkle.consistency_ranges(m, n), nodes))
            if m < n:
                with pytest.raises(BadProof):
                    merkle.verify_consistency(m, n, merkle.leaf_hash(b"forged"), root,
                                              merkle.build(merkle.consistency_ranges(m, n), nodes))


def test_a_proof_reads_a_logarithmic_number_of_stored_subtrees():
    n = 1_000_000
    for i in (0, 1, 499_999, 999_998, n - 1):
        assert len(merkle.needed(merkle.inclusion_ranges(i, n))) <= 2 * 20
    assert len(merkle.needed(merkle.consistency_ranges(123_457, n))) <= 2 * 20


# golang.org/x/mod/sumdb/note: the package documentation's example
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (GO_TEXT + "\n\u2014 PeterNeumann "
           "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def _go_key() -> keys.SigningKey:
    seed = base64.b64decode(GO_SIGNER.split("+", 4)[4])[1:]
    return keys.SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


def test_signed_notes_are_byte_for_byte_those_of_go_sumdb_note():
    key = _go_key()
    assert note.sign_text(key, "PeterNeumann", GO_TEXT).note == GO_NOTE
    assert note.verifier_key("PeterNeumann", key.public_pem) == GO_VERIFIER
    assert note.open_text(GO_NOTE, key.public_pem, "PeterNeumann") == GO_TEXT
    with pytest.raises(BadSignature):
        note.open_text(GO_NOTE.replace("cryptography", "cryptographY"), key.public_pem, "PeterNeumann")


def test_a_checkpoint_is_origin_size_and_root_and_only_its_key_opens_it(tmp_path):
    key = keys.load_or_create(tmp_path / "archive.key")
    root = _h(ROOT_HASHES[8])
    signed = note.sign(key, note.origin_of(key), 8, root)
    body, sig_line = signed.note.split("\n\n")
    assert body.split("\n") == [note.origin_of(key), "8", base64.b64encode(root).decode()]
    assert sig_line.startswith(f"\u2014 {note.origin_of(key)} ")
    blob = base64.b64decode(sig_line.split(" ")[2])
    assert blob[:4] == note.key_hash(note.origin_of(key), key.public_pem) and len(blob) == 68
    c = note.open_note(signed.note, key.public_pem, note.origin_of(key))
    assert (c.size, c.root) == (8, root)
    other = keys.load_or_create(tmp_path / "other.key")
    forged = note.sign(other, note.origin_of(key), 9, root)
    with pytest.raises(BadSignature):
        note.open_note(forged.note, key.public_pem, note.origin_of(key))
    with pytest.raises(BadSignature):
        note.open_note(signed.note.replace("\n8\n", "\n9\n"), key.public_pem, note.origin_of(key))
    with pytest.raises(BadCheckpoint):
        note.open_note(signed.body, key.public_pem, note.origin_of(key))
