"""The whole job on an object store: a real S3 API (moto's server, a process of its own) through s3fs.

Every store and folder is an ``s3://`` URL; the credentials and the
endpoint come from the environment only (``AWS_*``), as docs/cloud.md says.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sgdsm_dask.errors import InputError, WriteError
from sgdsm_dask.export import folder, manifest
from sgdsm_dask.io import outputs
from sgdsm_dask.io.files import Folder, atomic_write
from sgdsm_dask.readers.lprm import read_lprm_day
from sgdsm_dask.staging.inventory import list_files
from tests.integration.runs import run, sigkill_when
from tests.integration.s3_server import SECRET, environment, moto_server

pytest.importorskip("s3fs", reason="the object store tests need s3fs (pip install -e '.[test]')")
pytest.importorskip("moto.server", reason="the object store tests need moto[server] (pip install -e '.[test]')")

BUCKET = "sgdsm-record"
LPRM = "LPRM-AMSR2_L3_D_SOILM3_V001_20150401.nc4"
#: A 40 x 40-cell box (one patch) over Europe: every command runs its real code on a small cube.
REGION = "--region=0,40,10,50"
DAYS = 12


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on 127.0.0.1, its credentials in this process's environment, and an empty bucket."""
    with moto_server() as server, environment(server.env):
        fs = server.filesystem()
        fs.mkdir(BUCKET)
        yield fs


def test_an_object_store_folder_keeps_the_rules_of_a_local_one(s3, tmp_path):
    url = f"s3://{BUCKET}/rules"
    # a failed write leaves neither the object nor its temporary key, and is one line naming the object
    s3.pipe_file(f"{BUCKET}/rules/old.txt", b"before")

    def half(tmp: Path) -> None:
        tmp.write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    with pytest.raises(WriteError, match=f"{url}/new.nc"):
        atomic_write(f"{url}/new.nc", half)
    assert s3.ls(f"{BUCKET}/rules", detail=False) == [f"{BUCKET}/rules/old.txt"]
    with pytest.raises(WriteError, match="s3://no-such-bucket-of-sgdsm/daily/new.nc: "):  # the store refuses it
        atomic_write("s3://no-such-bucket-of-sgdsm/daily/new.nc", lambda tmp: tmp.write_bytes(b"whole"))
    # a whole write: the object under its name, no temporary key beside it, its entry hashed before the upload
    entry = Folder(url).write_text("notes.txt", "all of it\n")
    assert s3.cat_file(f"{BUCKET}/rules/notes.txt") == b"all of it\n" and entry["bytes"] == 10
    assert Folder(url).names() == ["notes.txt", "old.txt"]
    size, earliest, latest = Folder(url).stat("notes.txt")
    assert size == 10 and earliest <= latest and Folder(url).stat("absent.txt") is None

    # written only if absent, empty or ours: a prefix holding the user's objects is refused, untouched
    with pytest.raises(InputError, match=f"{url}: exists and is not a store of sgdsm"):
        outputs.claim(url, "staged", "0" * 16)
    with pytest.raises(InputError, match=f"{url}: is not an export folder of sgdsm"):
        folder.check(url, {})
    assert outputs.claim(f"s3://{BUCKET}/nothing-yet.zarr", "staged", "0" * 16) == "create"
    assert folder.check(f"s3://{BUCKET}/nothing-yet", {}) == {}
    assert sorted(s3.ls(f"{BUCKET}/rules", detail=False)) == [f"{BUCKET}/rules/notes.txt", f"{BUCKET}/rules/old.txt"]
    assert s3.cat_file(f"{BUCKET}/rules/old.txt") == b"before"
    with pytest.raises(InputError, match=f"s3://{BUCKET}/nothing-yet: no such folder"):
        manifest.verify(f"s3://{BUCKET}/nothing-yet")

    # an input object that is not a readable file is one line naming its URL
    xr.Dataset({"x": ("y", np.arange(4.0))}).to_netcdf(tmp_path / LPRM)
    whole = (tmp_path / LPRM).read_bytes()
    s3.pipe_file(f"{BUCKET}/in/ok/{LPRM}", whole)
    s3.pipe_file(f"{BUCKET}/in/cut/{LPRM}", whole[: len(whole) // 2])
    assert list_files(f"s3://{BUCKET}/in") == [f"s3://{BUCKET}/in/cut/{LPRM}", f"s3://{BUCKET}/in/ok/{LPRM}"]
    with pytest.raises(InputError, match=f"s3://{BUCKET}/in/ok/{LPRM}: missing variable 'Latitude'"):
        read_lprm_day(f"s3://{BUCKET}/in/ok/{LPRM}")
    with pytest.raises(InputError, match=f"s3://{BUCKET}/in/cut/{LPRM}: not a readable NetCDF4/HDF5 file"):
        read_lprm_day(f"s3://{BUCKET}/in/cut/{LPRM}")
    with pytest.raises(InputError, match=f"s3://{BUCKET}/in/{LPRM}: file not found"):
        read_lprm_day(f"s3://{BUCKET}/in/{LPRM}")


def _chain(lprm: str, imerg: str, at: str, sgdsm) -> None:
    """stage -> reconstruct -> export into ``at`` (a folder or an ``s3://`` prefix), as a user types them."""
    chunks = ["--time-chunk", "2", "--workers", "2"]
    sgdsm("stage", "--lprm", lprm, "--imerg", imerg, REGION, *chunks, "--out", f"{at}/staged.zarr")
    sgdsm("reconstruct", "--store", f"{at}/staged.zarr", *chunks, "--out", f"{at}/result.zarr")
    sgdsm("export", "--store", f"{at}/result.zarr", "--out", f"{at}/daily", "--cog", "--workers", "2")


def _cat(where: Folder, name: str) -> bytes:
    """The bytes of the file ``name`` of a local folder or an object store's prefix."""
    from sgdsm_dask.paths import filesystem

    fs, key = filesystem(str(where.file(name)))
    return fs.cat_file(key)


def _daily_sm(where: Folder, tmp: Path) -> dict[str, np.ndarray]:
    """``sm`` of every daily NetCDF file in ``where`` (as stored: no scaling, no masking), read from a local copy."""
    tmp.mkdir()
    found = {}
    for name in (n for n in where.names() if n.endswith(".nc")):
        (tmp / name).write_bytes(_cat(where, name))
        with xr.open_dataset(tmp / name, engine="netcdf4", mask_and_scale=False) as ds:
            found[name] = ds["sm"].values.copy()
    return found


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.slow
def test_the_whole_job_on_s3_equals_a_local_run_bit_for_bit(s3, tmp_path, capsys):
    from sgdsm_dask.cli import main

    said: list[str] = []

    def sgdsm(*args: str) -> None:
        proc = run(*args)
        said.extend([proc.stdout, proc.stderr])

    archive = tmp_path / "archive"
    sgdsm("synth", str(archive), "--start", "2015-04-01", "--days", str(DAYS), "--seed", "5", REGION, "--workers", "2")
    s3.put(str(archive / "lprm"), f"{BUCKET}/archive/lprm", recursive=True)
    s3.put(str(archive / "imerg"), f"{BUCKET}/archive/imerg", recursive=True)
    here, there = tmp_path / "local", f"s3://{BUCKET}/run"
    _chain(str(archive / "lprm"), str(archive / "imerg"), str(here), sgdsm)
    _chain(f"s3://{BUCKET}/archive/lprm", f"s3://{BUCKET}/archive/imerg", there, sgdsm)
    assert main(["verify", str(here / "daily")]) == 0 and main(["verify", f"{there}/daily"]) == 0
    said.append(capsys.readouterr().out)

    # the stores and the daily files hold the same bits
    for store, product in (("staged.zarr", {"sm", "precip"}), ("result.zarr", {"sm", "flag", "sm_uncertainty"})):
        mine = xr.open_zarr(here / store, consolidated=False)
        theirs = xr.open_zarr(f"{there}/{store}", consolidated=False)
        assert sorted(mine.variables) == sorted(theirs.variables) and product <= set(mine.variables)
        for name in mine.variables:  # the product and every record beside it
            assert _same_bits(mine[name].values, theirs[name].values), f"{store} {name}"
    local_days = _daily_sm(Folder(str(here / "daily")), tmp_path / "from-local")
    s3_days = _daily_sm(Folder(f"{there}/daily"), tmp_path / "from-s3")
    assert len(local_days) == DAYS and sorted(s3_days) == sorted(local_days)
    assert all(_same_bits(local_days[name], s3_days[name]) for name in local_days)
    assert Folder(f"{there}/daily").names() == Folder(str(here / "daily")).names()  # no temporary key, no marker

    # an export SIGKILLed part-way (the command and its workers) leaves no half object; run again, it verifies
    killed = f"{there}/killed"
    written = lambda: sum(n.endswith(".nc") for n in Folder(killed).names())  # noqa: E731
    again = ["export", "--store", f"{there}/result.zarr", "--out", killed, "--cog"]
    sigkill_when([*again, "--workers", "1"], written, 1)
    left = Folder(killed).names()
    assert manifest.MANIFEST not in left and manifest.MARKER in left and 0 < written() < DAYS
    cut = _daily_sm(Folder(killed), tmp_path / "from-killed-part")  # every object under a final name is whole
    assert cut and all(_same_bits(local_days[name], cut[name]) for name in cut)
    sgdsm(*again, "--workers", "2")
    assert main(["verify", killed]) == 0
    said.append(capsys.readouterr().out)
    assert Folder(killed).names() == Folder(f"{there}/daily").names()
    resumed = _daily_sm(Folder(killed), tmp_path / "from-killed")
    assert all(_same_bits(local_days[name], resumed[name]) for name in local_days)

    # the secret key is in no output, no object of the bucket and no file written here
    assert all(SECRET not in text for text in said)
    for key in s3.find(BUCKET):
        assert SECRET.encode() not in s3.cat_file(key), key
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert SECRET.encode() not in path.read_bytes(), path
    doc = json.loads(_cat(Folder(f"{there}/daily"), manifest.MANIFEST))
    assert doc["provenance"]["result_store"] == f"{there}/result.zarr"


def _same_stores(mine: str | Path, theirs: str, product: set[str]) -> None:
    """Two Zarr stores hold the same variables, bit for bit (``product`` among them)."""
    a, b = xr.open_zarr(mine, consolidated=False), xr.open_zarr(theirs, consolidated=False)
    assert sorted(a.variables) == sorted(b.variables) and product <= set(a.variables)
    for name in a.variables:
        assert _same_bits(a[name].values, b[name].values), f"{theirs} {name}"


def _no_secret(said: list[str], where: Path, s3) -> None:
    """The secret key is in no output, no object of the bucket and no file under ``where``."""
    assert all(SECRET not in text for text in said)
    for key in s3.find(BUCKET):
        assert SECRET.encode() not in s3.cat_file(key), key
    for path in (p for p in where.rglob("*") if p.is_file()):
        assert SECRET.encode() not in path.read_bytes(), path


def test_a_folder_cube_on_s3_stages_as_the_same_folder_on_disk(s3, tmp_path, capsys):
    from benchmarks.stage_folder import write_daily_files
    from sgdsm_dask.cli import main
    from sgdsm_dask.grid import Region
    from tests.conftest import real

    # ESA CCI SM daily files: two real global days, and nine synthetic ones in their layout on a box of France
    cci = real("esa_cci")
    here = tmp_path / "synthetic"
    write_daily_files(here, 9, Region.parse("2,46,6,50"))
    s3.put(str(cci), f"{BUCKET}/cube/cci", recursive=True)
    s3.put(str(here), f"{BUCKET}/cube/synthetic", recursive=True)
    s3.pipe_file(f"{BUCKET}/cube/synthetic/README.txt", b"not a day")  # a folder's other files are left out
    chunks = ["--time-chunk", "2", "--space-chunk", "40"]
    for local, url, box in ((cci, "cci", "--region=0,40,10,50"), (here, "synthetic", "--region=2,46,6,50")):
        there = f"s3://{BUCKET}/cube/{url}"
        assert main(["stage", "--cube", str(local), box, *chunks, "--out", str(tmp_path / f"{url}.zarr")]) == 0
        assert main(["stage", "--cube", there, box, *chunks, "--out", f"s3://{BUCKET}/staged/{url}.zarr"]) == 0
        _same_stores(tmp_path / f"{url}.zarr", f"s3://{BUCKET}/staged/{url}.zarr", {"sm", "precip", "land"})
    said = [capsys.readouterr().out]

    # a glob of a prefix's files, and one file alone, stage as their days on disk do
    one = "ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20160608000000-fv05.2.nc"
    for local, url in ((f"{here}/*2016010[1-4]*.nc", f"{BUCKET}/cube/synthetic/*2016010[1-4]*.nc"), (cci / one, None)):
        url = url or f"{BUCKET}/cube/cci/{one}"
        name = Path(url).name.replace("*", "_").replace("[", "_").replace("]", "_")
        main(["stage", "--cube", str(local), *chunks, "--region=2,46,6,50", "--out", str(tmp_path / f"{name}.zarr")])
        main(["stage", "--cube", f"s3://{url}", *chunks, "--region=2,46,6,50", "--out", f"s3://{BUCKET}/{name}.zarr"])
        _same_stores(tmp_path / f"{name}.zarr", f"s3://{BUCKET}/{name}.zarr", {"sm"})
    assert xr.open_zarr(f"s3://{BUCKET}/{name}.zarr", consolidated=False).sizes["time"] == 1

    said.append(capsys.readouterr().out)
    _no_secret(said, tmp_path, s3)


def test_a_task_fetches_only_its_own_days_files_from_s3(s3, tmp_path, monkeypatch):
    from benchmarks.stage_folder import write_daily_files
    from sgdsm_dask.grid import Region
    from sgdsm_dask.readers import cube

    box = Region.parse("2,46,6,50")
    files = write_daily_files(tmp_path / "days", 9, box)
    s3.put(str(tmp_path / "days"), f"{BUCKET}/tasks/days", recursive=True)
    fetched: list[str] = []
    real_fetch = cube._fetch
    monkeypatch.setattr(cube, "_fetch", lambda url: fetched.append(Path(url).name) or real_fetch(url))
    info = cube.inspect_cube(f"s3://{BUCKET}/tasks/days")
    assert sorted(fetched) == sorted(f.name for f in files)  # the client's inspection: each file once
    assert info.file_map.files == tuple(f"s3://{BUCKET}/tasks/days/{f.name}" for f in files)
    for t0 in range(0, 9, 2):
        fetched.clear()
        t1 = min(t0 + 2, 9)
        block = cube.read_cube_block(info.for_days(t0, t1), t0, t1, box)
        assert fetched == [f.name for f in files[t0:t1]]  # its own days' files, once each, and no other
        with xr.open_mfdataset(files[t0:t1], combine="by_coords") as ds:
            assert _same_bits(block["sm"], ds["sm"].values.astype(np.float32))
    with pytest.raises(InputError, match=f"s3://{BUCKET}/tasks/none: file not found"):
        cube.inspect_cube(f"s3://{BUCKET}/tasks/none")
    s3.pipe_file(f"{BUCKET}/tasks/text/notes.txt", b"no day")
    with pytest.raises(InputError, match=f"s3://{BUCKET}/tasks/text: folder holds no .nc or .nc4 files"):
        cube.inspect_cube(f"s3://{BUCKET}/tasks/text")
    s3.rm_file(f"{BUCKET}/tasks/days/{files[3].name}")  # gone since the folder was inspected: named
    with pytest.raises(InputError, match=f"{files[3].name}: file not found .it was there when"):
        cube.read_cube_block(info.for_days(2, 4), 2, 4, box)


@pytest.fixture(scope="module")
def staged_box(s3, tmp_path_factory) -> tuple[Path, str, Path]:
    """A synthetic archive's box staged on disk and the same store uploaded: (local store, its URL, the archive)."""
    from sgdsm_dask.cli import main

    where = tmp_path_factory.mktemp("staged-box")
    archive = where / "archive"
    assert main(["synth", str(archive), "--start", "2015-04-01", "--days", str(DAYS), "--seed", "5", REGION]) == 0
    lprm, imerg = str(archive / "lprm"), str(archive / "imerg")
    stage = ["stage", "--lprm", lprm, "--imerg", imerg, REGION, "--time-chunk", "4", "--workers", "1"]
    assert main([*stage, "--out", str(where / "s.zarr")]) == 0
    s3.put(str(where / "s.zarr"), f"{BUCKET}/box/staged.zarr", recursive=True)
    return where / "s.zarr", f"s3://{BUCKET}/box/staged.zarr", archive


def _weights(path: str):
    from sgdsm_dask.training import checkpoint

    return checkpoint.load(path).state_dict


def test_fit_and_reconstruct_with_the_checkpoint_on_s3_equal_local(s3, staged_box, tmp_path, capsys):
    from sgdsm_dask.cli import main

    store, url, _ = staged_box
    there = f"s3://{BUCKET}/fitted"
    fit = ["fit", "--steps", "0", "--days", "4"]
    assert main([*fit, "--store", str(store), "--out", str(tmp_path / "a.pt")]) == 0
    assert main([*fit, "--store", url, "--out", f"{there}/a.pt"]) == 0
    # the checkpoint and its hash beside it, whole, no temporary key; the same weights as fitted from disk
    assert sorted(s3.ls(f"{BUCKET}/fitted", detail=False)) == [f"{BUCKET}/fitted/a.pt", f"{BUCKET}/fitted/a.pt.sha256"]
    mine, theirs = _weights(str(tmp_path / "a.pt")), _weights(f"{there}/a.pt")
    assert sorted(mine) == sorted(theirs) and all(_same_bits(mine[k].numpy(), theirs[k].numpy()) for k in mine)
    said = [capsys.readouterr().out]
    # an existing checkpoint on the store is replaced only with --overwrite, as on disk
    assert main([*fit, "--store", url, "--out", f"{there}/a.pt"]) == 2
    assert (
        capsys.readouterr().err.strip().splitlines()[-1]
        == f"sgdsm: error: {there}/a.pt exists; give --overwrite to replace it"
    )

    chunks = ["--time-chunk", "4", "--workers", "1"]
    local = ["reconstruct", "--store", str(store), "--checkpoint", str(tmp_path / "a.pt"), *chunks]
    assert main([*local, "--out", str(tmp_path / "r.zarr")]) == 0
    remote = ["reconstruct", "--store", url, "--checkpoint", f"{there}/a.pt", *chunks]
    assert main([*remote, "--out", f"{there}/r.zarr"]) == 0
    _same_stores(tmp_path / "r.zarr", f"{there}/r.zarr", {"sm", "flag", "sm_uncertainty"})
    said.append(capsys.readouterr().out)

    # the hash is checked on the bytes fetched: a checkpoint changed on the store is refused, in one line
    s3.pipe_file(f"{BUCKET}/fitted/a.pt.sha256", b"0" * 64 + b"  a.pt\n")
    assert main([*remote, "--out", f"{there}/r2.zarr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"sgdsm: error: {there}/a.pt: SHA-256 ") and "differs from the recorded 000000000000" in err
    assert (
        main(["reconstruct", "--store", url, "--checkpoint", f"{there}/none.pt", *chunks, "--out", f"{there}/r3.zarr"])
        == 2
    )
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"sgdsm: error: {there}/none.pt: checkpoint not found"
    assert not s3.exists(f"{BUCKET}/fitted/r2.zarr") and not s3.exists(f"{BUCKET}/fitted/r3.zarr")
    _no_secret(said, tmp_path, s3)


def test_train_reads_a_staged_store_on_s3_and_resumes_its_checkpoint_there(s3, staged_box, tmp_path, capsys):
    from sgdsm_dask.cli import main

    store, url, _ = staged_box
    out = f"s3://{BUCKET}/trained/t.pt"
    train = ["train", "--config", "tiny", "--mode", "incomplete", "--samples", "12", "--batch", "4", "--days", "4"]
    train += ["--workers", "1"]
    assert main([*train, "--epochs", "1", "--store", str(store), "--out", str(tmp_path / "t.pt")]) == 0
    assert main([*train, "--epochs", "1", "--store", url, "--out", out]) == 0
    mine, theirs = _weights(str(tmp_path / "t.pt")), _weights(out)
    assert all(_same_bits(mine[k].numpy(), theirs[k].numpy()) for k in mine)
    # asked for more epochs, it resumes from the checkpoint on the store, as from one on disk
    assert main([*train, "--epochs", "2", "--store", str(store), "--out", str(tmp_path / "t.pt")]) == 0
    assert main([*train, "--epochs", "2", "--store", url, "--out", out]) == 0
    said = capsys.readouterr()
    assert (said.out + said.err).count(f"resuming {out} after epoch 1") == 1  # named as the user named it
    from sgdsm_dask.training import checkpoint

    ck = checkpoint.load(out)
    assert len(ck.training["history"]) == 2 and ck.provenance["path"] == out
    mine = _weights(str(tmp_path / "t.pt"))
    assert all(_same_bits(mine[k].numpy(), ck.state_dict[k].numpy()) for k in mine)
    assert sorted(s3.ls(f"{BUCKET}/trained", detail=False)) == [
        f"{BUCKET}/trained/t.pt",
        f"{BUCKET}/trained/t.pt.sha256",
    ]
    _no_secret([said.out, said.err], tmp_path, s3)


def test_validate_against_a_reference_writes_its_tables_and_maps_under_a_prefix(s3, staged_box, tmp_path, capsys):
    from sgdsm_dask.cli import main

    store, url, archive = staged_box
    s3.put(str(archive / "truth.zarr"), f"{BUCKET}/val/truth.zarr", recursive=True)
    there = f"s3://{BUCKET}/val/scores"
    args = ["validate", "--min-days", "1", "--workers", "1"]
    assert (
        main([*args, "--product", str(store), "--reference", str(archive / "truth.zarr"), "--out", str(tmp_path / "v")])
        == 0
    )
    assert main([*args, "--product", url, "--reference", f"s3://{BUCKET}/val/truth.zarr", "--out", there]) == 0
    said = [capsys.readouterr().out]
    assert Folder(there).names() == ["scores.zarr", "store_scores.json", "store_scores.md"]  # no temporary key
    mine, theirs = (
        json.loads((tmp_path / "v" / "store_scores.json").read_text()),
        json.loads(_cat(Folder(there), "store_scores.json")),
    )
    assert theirs["scores"] == mine["scores"] and theirs["days"] == DAYS and theirs["map"] == f"{there}/scores.zarr"
    _same_stores(tmp_path / "v" / "scores.zarr", f"{there}/scores.zarr", {"rmse_all", "n_all", "daily_rmse_all"})

    # a second run into the prefix is refused, and so is a prefix of the user's objects: one line, nothing written
    before = sorted(s3.find(f"{BUCKET}/val/scores"))
    assert main([*args, "--product", url, "--reference", f"s3://{BUCKET}/val/truth.zarr", "--out", there]) == 2
    assert (
        capsys.readouterr().err.strip().splitlines()[-1]
        == f"sgdsm: error: {there}/scores.zarr: already exists; give another --out (nothing was written)"
    )
    assert sorted(s3.find(f"{BUCKET}/val/scores")) == before
    s3.pipe_file(f"{BUCKET}/val/users/thesis.pdf", b"%PDF")
    assert (
        main(
            [
                *args,
                "--product",
                url,
                "--reference",
                f"s3://{BUCKET}/val/truth.zarr",
                "--out",
                f"s3://{BUCKET}/val/users",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        f"sgdsm: error: s3://{BUCKET}/val/users: holds files sgdsm validate did not write (1, such as thesis.pdf); "
        "nothing was written: give another --out"
    )
    assert s3.find(f"{BUCKET}/val/users") == [f"{BUCKET}/val/users/thesis.pdf"]
    _no_secret(said, tmp_path, s3)


def test_validate_against_ismn_stations_writes_its_tables_and_plots_under_a_prefix(s3, tmp_path, capsys):
    from sgdsm_dask.cli import main
    from sgdsm_dask.validation.insitu import read_stations
    from tests.conftest import real
    from tests.validation.test_insitu import _product

    archive = real("ismn/Data_seperate_files_header_20170810_20180809.zip")
    product = _product(read_stations(str(archive), str(tmp_path / "meta"), max_depth=0.25), str(tmp_path / "p.zarr"))
    s3.put(product, f"{BUCKET}/ismn/p.zarr", recursive=True)
    there = f"s3://{BUCKET}/ismn/val"
    args = ["validate", "--ismn", str(archive), "--max-depth", "0.25"]
    assert main([*args, "--product", product, "--out", str(tmp_path / "v")]) == 0
    local_out = capsys.readouterr().out
    assert main([*args, "--product", f"s3://{BUCKET}/ismn/p.zarr", "--out", there]) == 0
    out = capsys.readouterr().out
    names = Folder(there).names()  # the tables and plots only: the ismn package's index stays local
    assert names == sorted(n for n in Folder(str(tmp_path / "v")).names() if n != "ismn_metadata")
    assert {"ismn_validation.csv", "ismn_validation.md", "scatter_COSMOS_ARM-1.png"} <= set(names)
    assert _cat(Folder(there), "ismn_validation.csv") == (tmp_path / "v" / "ismn_validation.csv").read_bytes()
    text = _cat(Folder(there), "ismn_validation.md").decode()
    assert text == (tmp_path / "v" / "ismn_validation.md").read_text() and text in out and text in local_out
    assert json.loads(out.strip().splitlines()[-1])["csv"] == f"{there}/ismn_validation.csv"
    # a rerun into its own prefix replaces its files; a prefix of the user's objects is refused, untouched
    assert main([*args, "--product", f"s3://{BUCKET}/ismn/p.zarr", "--out", there]) == 0
    s3.pipe_file(f"{BUCKET}/ismn/mine/data.csv", b"a,b\n")
    assert main([*args, "--product", f"s3://{BUCKET}/ismn/p.zarr", "--out", f"s3://{BUCKET}/ismn/mine"]) == 2
    assert f"s3://{BUCKET}/ismn/mine: holds files sgdsm validate did not write" in capsys.readouterr().err
    assert s3.find(f"{BUCKET}/ismn/mine") == [f"{BUCKET}/ismn/mine/data.csv"]
    _no_secret([out], tmp_path, s3)


def _run_file(path: Path, at: str, archive: str) -> Path:
    """An ``sgdsm run`` file whose every input and output lies under ``at`` or ``archive`` (folders or URLs)."""
    path.write_text(
        f"""
stage:
  lprm: {archive}/lprm
  imerg: {archive}/imerg
  out: {at}/staged.zarr
  region: "0,40,10,50"
  time_chunk: 4
fit:
  out: {at}/fitted.pt
  steps: 0
  days: 4
reconstruct:
  out: {at}/result.zarr
  time_chunk: 4
export:
  out: {at}/daily
"""
    )
    return path


@pytest.mark.slow
def test_a_run_file_with_every_path_on_s3_equals_the_same_run_on_disk(s3, staged_box, tmp_path):
    _, _, archive = staged_box
    s3.put(str(archive / "lprm"), f"{BUCKET}/runs/archive/lprm", recursive=True)
    s3.put(str(archive / "imerg"), f"{BUCKET}/runs/archive/imerg", recursive=True)
    there = f"s3://{BUCKET}/runs/out"
    local = _run_file(tmp_path / "local.yaml", str(tmp_path / "out"), str(archive))
    remote = _run_file(tmp_path / "s3.yaml", there, f"s3://{BUCKET}/runs/archive")
    said = [run("run", str(local), "--workers", "2").stdout]
    proc = run("run", str(remote), "--workers", "2")
    said += [proc.stdout, proc.stderr]
    assert f"daily files: {there}/daily" in proc.stdout
    for store, product in (("staged.zarr", {"sm", "precip"}), ("result.zarr", {"sm", "flag", "sm_uncertainty"})):
        _same_stores(tmp_path / "out" / store, f"{there}/{store}", product)
    mine, theirs = _weights(str(tmp_path / "out" / "fitted.pt")), _weights(f"{there}/fitted.pt")
    assert all(_same_bits(mine[k].numpy(), theirs[k].numpy()) for k in mine)
    local_days = _daily_sm(Folder(str(tmp_path / "out" / "daily")), tmp_path / "from-local")
    s3_days = _daily_sm(Folder(f"{there}/daily"), tmp_path / "from-s3")
    assert len(local_days) == DAYS and sorted(s3_days) == sorted(local_days)
    assert all(_same_bits(local_days[name], s3_days[name]) for name in local_days)
    # run again, it finds every step done: the checkpoint on the store is used as it is, nothing is redone
    again = run("run", str(remote), "--workers", "2")
    assert f"{there}/fitted.pt: fitted on this staged cube with these options by an earlier run" in again.stderr
    assert _weights(f"{there}/fitted.pt").keys() == theirs.keys()
    from sgdsm_dask.cli import main
    from sgdsm_dask.export import manifest

    assert main(["verify", f"{there}/daily"]) == 0
    _no_secret([*said, again.stdout, again.stderr], tmp_path, s3)
    assert manifest.MANIFEST in Folder(f"{there}/daily").names()
