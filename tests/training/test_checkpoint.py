"""Checkpoint files: saved with their hash, loaded only when the hash and the weights are what a run needs."""

import pytest
import torch

from sgdsm_dask.errors import InputError
from sgdsm_dask.model.network import CONFIGS, LSTMCNN, ModelConfig, Normalisation
from sgdsm_dask.training import checkpoint

SMALL = ModelConfig(name="small", width=4, feature=32, hidden=24, skip=True, memory_map=True)


def test_shipped_checkpoint_is_verified_and_loads_safely():
    path = checkpoint.shipped_path("default")
    assert checkpoint.SHIPPED["default"] == checkpoint.sha256(path)
    ck = checkpoint.load()  # the shipped one, hash checked, torch.load(weights_only=True)
    assert ck.config.name == "default" and ck.sha256 == checkpoint.SHIPPED["default"]
    assert "optimizer" not in (ck.training or {})
    assert path.stat().st_size < 10 * 2**20
    ck.model()  # the weights fit the configuration


def test_checkpoint_round_trip_hash_and_wrong_configuration(tmp_path):
    torch.manual_seed(4)
    net = LSTMCNN(SMALL)
    path = tmp_path / "m.pt"
    digest = checkpoint.save(path, checkpoint.Checkpoint(SMALL, Normalisation(), net.state_dict(), {"x": 1}))
    assert (tmp_path / "m.pt.sha256").read_text().split()[0] == digest == checkpoint.sha256(path)
    ck = checkpoint.load(path)
    assert ck.config == SMALL and ck.provenance["x"] == 1
    for k, v in net.state_dict().items():
        assert torch.equal(ck.state_dict[k], v)
    # A file whose bytes changed after its hash was recorded is refused.
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="differs from the recorded"):
        checkpoint.load(path)
    # Weights of one configuration under another configuration's name: one clear message.
    other = tmp_path / "o.pt"
    checkpoint.save(other, checkpoint.Checkpoint(CONFIGS["tiny"], Normalisation(), net.state_dict(), {}))
    with pytest.raises(InputError, match="weights do not fit configuration 'tiny'"):
        checkpoint.load(other).model()
    (tmp_path / "bare.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="no recorded SHA-256"):
        checkpoint.load(tmp_path / "bare.pt")
